# Requests/s and p99 latency against connections, from tools/bench_servers.sh
# (gnuplot -e "tsv='servers.tsv'; png='servers.png'" bench/servers.gp).
set terminal pngcairo size 1400,1000 font ",10"
set output png
set datafile separator "\t"
set logscale x
set xlabel "connections"
set key top left
set grid
set multiplot layout 2,2
# column 3: connections, 4: requests/s, 6: p99 (µs); rows picked by group
# ($1) and server ($2)
pick(g, s, col) = (strcol(1) eq g && strcol(2) eq s) ? column(col) : NaN
set title "echo, 64 B ping-pong: requests/s"
set ylabel "requests/s"
plot for [s in "urio-echo echo-uring echo-uring-1shot echo-epoll echo-uv echo-threads"] \
	tsv using 3:(pick("echo", s, 4)) with linespoints title s
set title "echo, 64 B ping-pong: p99 latency"
set ylabel "p99 (µs)"
set logscale y
plot for [s in "urio-echo echo-uring echo-uring-1shot echo-epoll echo-uv echo-threads"] \
	tsv using 3:(pick("echo", s, 6)) with linespoints title s
unset logscale y
set title "HTTP fixed 200 (wrk): requests/s"
set ylabel "requests/s"
plot for [s in "urio-httpd nginx http-threads"] \
	tsv using 3:(pick("http", s, 4)) with linespoints title s
set title "HTTP fixed 200 (wrk): p99 latency"
set ylabel "p99 (µs)"
set logscale y
plot for [s in "urio-httpd nginx http-threads"] \
	tsv using 3:(pick("http", s, 6)) with linespoints title s
unset multiplot
