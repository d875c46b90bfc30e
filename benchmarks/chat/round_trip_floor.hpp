#pragma once
// The kernel's share of a request at concurrency 1, with no HTTP, TLS or JSON in it.

namespace keyless::bench {

struct round_trip_floor {
  double round_trips_per_s = 0;
  double sender_cpu_us = 0;  ///< per round trip, the thread that sends and waits
  double echo_cpu_us = 0;    ///< per round trip, the thread that answers
};

/// One byte sent over loopback TCP to a thread pinned to `echo_cpu` that sends it back, while
/// the calling thread blocks for it, `round_trips` times: each side sends, sleeps and is woken
/// once per round trip, as the chat client and the fake server do per request at concurrency 1.
round_trip_floor measure_round_trip_floor(int round_trips, int echo_cpu);

}  // namespace keyless::bench
