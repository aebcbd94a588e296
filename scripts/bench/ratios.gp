# Bar chart of scripts/bench.sh's ratios: each proxy relative to HAProxy with splice, turned so
# that higher is always better (for idle memory, latency and CPU per request: HAProxy's figure / the
# proxy's).
# Called as: gnuplot -e "datafile='…/ratios.dat'; outfile='…/ratios.png'" ratios.gp
# Twenty-odd workloads since the p99 and active rows: labels slanted so that they do not overlap.
set terminal pngcairo size 1400,640 font ",11" noenhanced
set output outfile
set title sprintf("Relative to %s (1.0), higher is better; idle RSS, latency and CPU per request inverted", base)
set xtics rotate by 40 right
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.85 border -1
set boxwidth 0.9
set yrange [0:*]
set grid ytics
set key outside right top
set ylabel "ratio"
set arrow from graph 0, first 1 to graph 1, first 1 nohead dashtype 2 lc rgb "#444444"
plot for [i=2:columns+1] datafile using i:xtic(1) title columnheader(i)
