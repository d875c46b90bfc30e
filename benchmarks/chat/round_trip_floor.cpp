#include "round_trip_floor.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <string>
#include <system_error>
#include <thread>

#include "thread_cpu.hpp"

namespace keyless::bench {
namespace {

int checked(int result, const char* what) {
  if (result < 0) {
    throw std::system_error(errno, std::generic_category(),
                            std::string("round trip floor: ") + what);
  }
  return result;
}

void no_delay(int fd) {
  int on = 1;
  checked(setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof on), "TCP_NODELAY");
}

}  // namespace

round_trip_floor measure_round_trip_floor(int round_trips, int echo_cpu) {
  const int listener = checked(socket(AF_INET, SOCK_STREAM, 0), "socket");
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  checked(bind(listener, reinterpret_cast<sockaddr*>(&address), sizeof address), "bind");
  socklen_t length = sizeof address;
  checked(getsockname(listener, reinterpret_cast<sockaddr*>(&address), &length), "getsockname");
  checked(listen(listener, 1), "listen");
  const int sender = checked(socket(AF_INET, SOCK_STREAM, 0), "socket");
  checked(connect(sender, reinterpret_cast<sockaddr*>(&address), sizeof address), "connect");
  const int echo = checked(accept(listener, nullptr, nullptr), "accept");
  close(listener);
  no_delay(sender);
  no_delay(echo);

  double echo_cpu_total = 0;
  std::thread echoer([&] {
    pin_to_cpu(echo_cpu);
    const double start = thread_cpu_us();
    char byte = 0;
    while (recv(echo, &byte, 1, 0) == 1) {
      if (send(echo, &byte, 1, MSG_NOSIGNAL) != 1) break;
    }
    echo_cpu_total = thread_cpu_us() - start;
  });

  const double start = thread_cpu_us();
  const auto began = std::chrono::steady_clock::now();
  char byte = 'x';
  for (int i = 0; i < round_trips; ++i) {
    if (send(sender, &byte, 1, MSG_NOSIGNAL) != 1 || recv(sender, &byte, 1, 0) != 1) break;
  }
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - began).count();
  const double sender_cpu_total = thread_cpu_us() - start;
  shutdown(sender, SHUT_WR);  // the echo thread's recv returns 0 and it finishes
  echoer.join();
  close(sender);
  close(echo);

  round_trip_floor floor;
  floor.round_trips_per_s = round_trips / seconds;
  floor.sender_cpu_us = sender_cpu_total / round_trips;
  floor.echo_cpu_us = echo_cpu_total / round_trips;
  return floor;
}

}  // namespace keyless::bench
