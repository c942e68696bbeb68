// AsyncLineWriter on a real pipe: a reader that does not read never blocks
// the caller, the queue stays bounded, whole lines are dropped and counted,
// and once the reader catches up one line says how many were lost.
#include <fcntl.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <string>
#include <thread>

#include "log/async_line_writer.h"

using wsbridge::log::AsyncLineWriter;

namespace {

std::string report(std::uint64_t dropped) { return "dropped " + std::to_string(dropped) + "\n"; }

// Reads everything the writer sends until `needle` arrives or 10 s pass.
std::string read_until(int fd, const std::string& needle) {
  std::string text;
  char buffer[65536];
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (text.find(needle) == std::string::npos && std::chrono::steady_clock::now() < deadline) {
    ssize_t n = ::read(fd, buffer, sizeof buffer);
    if (n > 0) {
      text.append(buffer, static_cast<std::size_t>(n));
    } else {
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
  }
  return text;
}

}  // namespace

TEST_CASE("a reader that does not read costs dropped lines, not a blocked caller",
          "[log_async_line_writer_test]") {
  int fds[2];
  REQUIRE(::pipe2(fds, O_CLOEXEC) == 0);
  REQUIRE(::fcntl(fds[0], F_SETFL, O_NONBLOCK) == 0);
  // Never destroyed, like the server's: its thread outlives the test (held
  // in a static so a leak checker sees it as reachable, as it is).
  static AsyncLineWriter* writer = nullptr;
  writer = new AsyncLineWriter(fds[1], &report);
  REQUIRE(writer->start());

  const std::string line(99, 'x');
  const std::string whole = line + "\n";
  // 4 MiB offered to a 64 KiB pipe nobody reads: this returns at once
  // (a blocked caller would hang the test) with most lines dropped.
  int accepted = 0;
  const int offered = 40000;
  for (int i = 0; i < offered; ++i) accepted += writer->enqueue(whole) ? 1 : 0;
  const auto dropped = writer->dropped_total();
  CHECK(dropped == static_cast<std::uint64_t>(offered - accepted));
  CHECK(dropped > 0);
  // What was kept fits the bound (plus what the pipe and the batch hold).
  CHECK(static_cast<std::size_t>(accepted) * whole.size() <=
        2 * AsyncLineWriter::kMaxQueuedBytes + 128 * 1024);

  const std::string expected_report = "dropped " + std::to_string(dropped) + "\n";
  const std::string text = read_until(fds[0], expected_report);
  REQUIRE(text.size() >= expected_report.size());
  CHECK(text.compare(text.size() - expected_report.size(), expected_report.size(), expected_report) == 0);
  // Every line that arrived is whole, and as many as were accepted.
  const std::string body = text.substr(0, text.size() - expected_report.size());
  CHECK(body.size() == static_cast<std::size_t>(accepted) * whole.size());
  CHECK(body.find_first_not_of("x\n") == std::string::npos);

  // The report is said once: later lines arrive alone.
  REQUIRE(writer->enqueue("after\n"));
  writer->flush(5000);
  CHECK(read_until(fds[0], "after\n") == "after\n");
  ::close(fds[0]);
  // The write end stays open for the writer's thread, which never ends.
}
