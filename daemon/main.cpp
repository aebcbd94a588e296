#include "detour/config/config.hpp"
#include <cstdio>
int main() { auto c = detour::default_config(); std::printf("%u\n", c.port); }
