#pragma once
// Owning pointers for libnftnl's C objects, for the encoder and for tests that parse its messages
// back.
#include <libnftnl/chain.h>
#include <libnftnl/expr.h>
#include <libnftnl/rule.h>
#include <libnftnl/set.h>
#include <libnftnl/table.h>
#include <libnftnl/udata.h>

#include <memory>
#include <new>

namespace detour::rules::nftnl {

template <typename T, auto Free>
struct c_deleter {
  void operator()(T* p) const { Free(p); }
};
using table_ptr = std::unique_ptr<nftnl_table, c_deleter<nftnl_table, nftnl_table_free>>;
using chain_ptr = std::unique_ptr<nftnl_chain, c_deleter<nftnl_chain, nftnl_chain_free>>;
using set_ptr = std::unique_ptr<nftnl_set, c_deleter<nftnl_set, nftnl_set_free>>;
using elem_ptr = std::unique_ptr<nftnl_set_elem, c_deleter<nftnl_set_elem, nftnl_set_elem_free>>;
using rule_ptr = std::unique_ptr<nftnl_rule, c_deleter<nftnl_rule, nftnl_rule_free>>;
using expr_ptr = std::unique_ptr<nftnl_expr, c_deleter<nftnl_expr, nftnl_expr_free>>;
using iter_ptr = std::unique_ptr<nftnl_set_elems_iter, c_deleter<nftnl_set_elems_iter, nftnl_set_elems_iter_destroy>>;
using udata_ptr = std::unique_ptr<nftnl_udata_buf, c_deleter<nftnl_udata_buf, nftnl_udata_buf_free>>;

// libnftnl's allocators return nullptr when out of memory.
template <typename P, typename F>
P allocate(F alloc) {
  P p(alloc());
  if (!p) throw std::bad_alloc();
  return p;
}

}  // namespace detour::rules::nftnl
