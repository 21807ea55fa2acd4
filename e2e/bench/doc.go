// Package bench measures opsmop-push against a real fleet (e2e/fleet): wall
// time, bytes sent and round trips for a cold apply, a warm apply and a
// check; the same workload run by Ansible; the floor, `sudo -n true` over SSH
// to every host at once; and the controller's memory at hundreds of hosts.
//
// Everything lives in _test.go files and runs only with -bench, never under
// a plain `go test ./...`:
//
//	make bench                       # BenchmarkPush, issue 4
//	make bench-ansible               # BenchmarkAnsible, issue 5
//	BENCH=Scale make bench           # memory at 500 hosts
//	BENCH=OneHost make bench         # one host, run after run
//	BENCH=Processes make bench       # CPU per host by process (needs perf)
//
// Knobs, all environment variables: BENCH_HOSTS (hosts, default 20 for Push
// and 50 for Ansible), BENCH_RTT (a round-trip time such as 20ms, or a
// comma-separated list; default 0 for Push and "0,20ms" for Ansible),
// BENCH_REPEAT (runs per opsmop case, the median is reported, default 3),
// BENCH_ANSIBLE_REPEAT (default 1), BENCH_ANSIBLE_TIMEOUT (per Ansible run,
// default 4m), BENCH_SCALE_HOSTS (comma-separated inventory sizes for Scale,
// default "10,100,250,500").
//
// Round-trip time comes from Toxiproxy running in the benchmark process: one
// proxy per host on 127.0.0.1 forwarding to the host's sshd, with a latency
// toxic of RTT/2 on each direction. The kernel here has no netem. The proxy
// costs CPU in the benchmark process, which shares the 2 cores with the
// controller and the sshds; the floor goes through the same proxies.
package bench
