#pragma once
// Per-thread CPU time and CPU pinning for the chat benchmarks.

#include <pthread.h>
#include <sched.h>
#include <sys/resource.h>

#include <thread>

namespace keyless::bench {

/// This thread's user + system CPU time so far, in microseconds.
inline double thread_cpu_us() {
  rusage u{};
  getrusage(RUSAGE_THREAD, &u);
  return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) * 1e6 +
         static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec);
}

/// Keeps this thread on `cpu` (on a machine with two or more): threads that migrate between
/// the two CPUs, or briefly share one, made rounds differ by ±10 %.
inline void pin_to_cpu(int cpu) {
  if (std::thread::hardware_concurrency() < 2) return;
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu, &set);
  pthread_setaffinity_np(pthread_self(), sizeof set, &set);
}

}  // namespace keyless::bench
