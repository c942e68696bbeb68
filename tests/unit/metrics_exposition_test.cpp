#include <catch2/catch.hpp>

#include <signal.h>

#include <string>

#include "wsbridge/metrics/exposition.h"

using namespace wsbridge::metrics;

namespace {

// The value of one sample line "name{labels} value", or "" when absent.
std::string sample(const std::string& text, const std::string& series) {
  std::size_t at = text.find("\n" + series + " ");
  if (at == std::string::npos) return "";
  at += series.size() + 2;
  return text.substr(at, text.find('\n', at) - at);
}

}  // namespace

TEST_CASE("every family has HELP and TYPE lines before its samples", "[metrics_exposition_test]") {
  Scrape scrape;
  const std::string text = render_exposition(scrape);
  for (const char* family : {"wsbridge_connections_accepted_total", "wsbridge_requests_refused_total",
                             "wsbridge_program_start_seconds", "wsbridge_messages_total"}) {
    const std::string help = std::string("# HELP ") + family + " ";
    const std::string type = std::string("# TYPE ") + family + " ";
    REQUIRE(text.find(help) != std::string::npos);
    REQUIRE(text.find(type) > text.find(help));
  }
  CHECK(text.back() == '\n');
}

TEST_CASE("counters summed over loops are rendered with their labels", "[metrics_exposition_test]") {
  LoopMetrics first, second;
  ++first.connections_accepted;
  ++second.connections_accepted;
  ++second.connections_accepted;
  ++first.refusals[static_cast<std::size_t>(wsbridge::http::Refusal::ForkLimit)];
  first.bytes[static_cast<std::size_t>(Direction::ToClient)].add(1000);
  ++second.close_codes_sent[close_code_slot(1000)];
  ++second.close_codes_received[close_code_slot(4042)];
  ++second.program_exits_by_signal[SIGKILL];
  Scrape scrape;
  add_to_totals(first, scrape.totals);
  add_to_totals(second, scrape.totals);
  scrape.connections_open = 2;
  const std::string text = render_exposition(scrape);
  CHECK(sample(text, "wsbridge_connections_accepted_total") == "3");
  CHECK(sample(text, "wsbridge_connections_open") == "2");
  CHECK(sample(text, "wsbridge_requests_refused_total{reason=\"fork_limit\"}") == "1");
  CHECK(sample(text, "wsbridge_message_bytes_total{direction=\"to_client\"}") == "1000");
  CHECK(sample(text, "wsbridge_message_bytes_total{direction=\"to_program\"}") == "0");
  CHECK(sample(text, "wsbridge_close_codes_sent_total{code=\"1000\"}") == "1");
  CHECK(sample(text, "wsbridge_close_codes_received_total{code=\"4000-4999\"}") == "1");
  CHECK(sample(text, "wsbridge_program_exits_total{class=\"signal\"}") == "1");
  CHECK(sample(text, "wsbridge_program_signal_exits_total{signal=\"SIGKILL\"}") == "1");
  // Signals that never happened have no series.
  CHECK(sample(text, "wsbridge_program_signal_exits_total{signal=\"SIGTERM\"}").empty());
}

TEST_CASE("the start histogram is cumulative and ends with +Inf, sum and count", "[metrics_exposition_test]") {
  LoopMetrics loop;
  loop.program_start_duration.observe(800);        // <= 1 ms
  loop.program_start_duration.observe(1'000);      // on the bound: still <= 1 ms
  loop.program_start_duration.observe(30'000);     // <= 50 ms
  loop.program_start_duration.observe(9'000'000);  // beyond 5 s
  Scrape scrape;
  add_to_totals(loop, scrape.totals);
  const std::string text = render_exposition(scrape);
  CHECK(sample(text, "wsbridge_program_start_seconds_bucket{le=\"0.001000\"}") == "2");
  CHECK(sample(text, "wsbridge_program_start_seconds_bucket{le=\"0.025000\"}") == "2");
  CHECK(sample(text, "wsbridge_program_start_seconds_bucket{le=\"0.050000\"}") == "3");
  CHECK(sample(text, "wsbridge_program_start_seconds_bucket{le=\"5.000000\"}") == "3");
  CHECK(sample(text, "wsbridge_program_start_seconds_bucket{le=\"+Inf\"}") == "4");
  CHECK(sample(text, "wsbridge_program_start_seconds_count") == "4");
  CHECK(sample(text, "wsbridge_program_start_seconds_sum") == "9.031800");
}

TEST_CASE("every refusal reason has a series, zero included", "[metrics_exposition_test]") {
  const std::string text = render_exposition(Scrape{});
  for (std::size_t i = 0; i < wsbridge::http::kRefusalCount; ++i) {
    const auto& info = wsbridge::http::refusal_info(static_cast<wsbridge::http::Refusal>(i));
    CHECK(sample(text, "wsbridge_requests_refused_total{reason=\"" + std::string(info.label) + "\"}") == "0");
  }
}

TEST_CASE("close codes land in bounded slots", "[metrics_exposition_test]") {
  CHECK(close_code_slot(1000) == 0);
  CHECK(close_code_slot(1015) == 15);
  CHECK(close_code_slot(4000) == kPrivateCloseCodeSlot);
  CHECK(close_code_slot(4999) == kPrivateCloseCodeSlot);
  CHECK(close_code_slot(3000) == kOtherCloseCodeSlot);
  CHECK(close_code_slot(999) == kOtherCloseCodeSlot);
  CHECK(close_code_slot(5000) == kOtherCloseCodeSlot);
}

TEST_CASE("process values that could not be read are left out", "[metrics_exposition_test]") {
  Scrape scrape;
  scrape.process.open_fds = 7;
  const std::string text = render_exposition(scrape);
  CHECK(sample(text, "process_open_fds") == "7");
  CHECK(text.find("process_max_fds") == std::string::npos);
  CHECK(text.find("process_cpu_seconds_total") == std::string::npos);
}
