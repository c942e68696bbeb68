#include "wsbridge/metrics/exposition.h"

#include <string.h>  // sigabbrev_np

#include <cinttypes>
#include <cstdio>
#include <string_view>

namespace wsbridge::metrics {
namespace {

constexpr std::string_view kDirectionLabels[kDirectionCount] = {"to_program", "to_client"};

std::string format_seconds(double seconds) {
  char text[64];
  std::snprintf(text, sizeof text, "%.6f", seconds);
  return text;
}

std::string microseconds_as_seconds(std::uint64_t us) {
  char text[64];
  std::snprintf(text, sizeof text, "%" PRIu64 ".%06" PRIu64, us / 1'000'000, us % 1'000'000);
  return text;
}

// The signal's name as kill -l spells it ("SIGKILL"), or its number.
std::string signal_label(std::size_t number) {
  const char* abbreviation = sigabbrev_np(static_cast<int>(number));
  return abbreviation ? std::string("SIG") + abbreviation : std::to_string(number);
}

std::string close_code_label(std::size_t slot) {
  if (slot == kPrivateCloseCodeSlot) return "4000-4999";
  if (slot == kOtherCloseCodeSlot) return "other";
  return std::to_string(1000 + slot);
}

class Writer {
 public:
  // One family: its HELP and TYPE lines; samples follow with sample().
  void family(std::string_view name, std::string_view type, std::string_view help) {
    out_.append("# HELP ").append(name).append(" ").append(help).append("\n");
    out_.append("# TYPE ").append(name).append(" ").append(type).append("\n");
  }
  void sample(std::string_view name, std::string_view labels, std::string_view value) {
    out_.append(name);
    if (!labels.empty()) out_.append("{").append(labels).append("}");
    out_.append(" ").append(value).append("\n");
  }
  void sample(std::string_view name, std::string_view labels, std::uint64_t value) {
    sample(name, labels, std::to_string(value));
  }
  void single(std::string_view name, std::string_view type, std::string_view help, std::uint64_t value) {
    family(name, type, help);
    sample(name, {}, value);
  }
  std::string take() { return std::move(out_); }

 private:
  std::string out_;
};

std::string label(std::string_view name, std::string_view value) {
  return std::string(name) + "=\"" + std::string(value) + "\"";
}

void write_connections(Writer& w, const Scrape& scrape) {
  const MetricTotals& t = scrape.totals;
  w.single("wsbridge_connections_accepted_total", "counter", "Connections accepted on the serving listeners.",
           t.connections_accepted);
  w.single("wsbridge_connections_open", "gauge", "Connections open now.", scrape.connections_open);
  w.single("wsbridge_tls_handshakes_failed_total", "counter", "TLS handshakes that failed.",
           t.tls_handshakes_failed);
  w.family("wsbridge_requests_refused_total", "counter",
           "Requests refused before or instead of being served, by reason.");
  for (std::size_t i = 0; i < http::kRefusalCount; ++i) {
    const http::RefusalInfo& info = http::refusal_info(static_cast<http::Refusal>(i));
    w.sample("wsbridge_requests_refused_total", label("reason", info.label), t.refusals[i]);
  }
}

void write_programs(Writer& w, const MetricTotals& t) {
  w.single("wsbridge_programs_started_total", "counter", "Programs started (WebSocket endpoints and CGI).",
           t.programs_started);
  w.single("wsbridge_programs_running", "gauge", "Programs running now.", t.programs_running);
  const char* histogram = "wsbridge_program_start_seconds";
  w.family(histogram, "histogram", "Time from the request to its program running.");
  std::uint64_t cumulative = 0;
  for (std::size_t i = 0; i < kDurationBucketBoundsUs.size(); ++i) {
    cumulative += t.program_start_duration.buckets[i];
    w.sample("wsbridge_program_start_seconds_bucket",
             label("le", microseconds_as_seconds(kDurationBucketBoundsUs[i])), cumulative);
  }
  cumulative += t.program_start_duration.buckets.back();
  w.sample("wsbridge_program_start_seconds_bucket", label("le", "+Inf"), cumulative);
  w.sample("wsbridge_program_start_seconds_sum", {}, microseconds_as_seconds(t.program_start_duration.sum_us));
  w.sample("wsbridge_program_start_seconds_count", {}, t.program_start_duration.observations);

  std::uint64_t by_signal = 0;
  for (std::uint64_t count : t.program_exits_by_signal) by_signal += count;
  w.family("wsbridge_program_exits_total", "counter",
           "Programs that ended: exit status 0, another status, or killed by a signal.");
  w.sample("wsbridge_program_exits_total", label("class", "success"), t.program_exits_success);
  w.sample("wsbridge_program_exits_total", label("class", "failure"), t.program_exits_failure);
  w.sample("wsbridge_program_exits_total", label("class", "signal"), by_signal);
  // Only the signals that happened: 64 series of zeros say nothing.
  w.family("wsbridge_program_signal_exits_total", "counter", "Programs killed by a signal, by signal.");
  for (std::size_t number = 1; number < kSignalSlots; ++number) {
    if (t.program_exits_by_signal[number] == 0) continue;
    w.sample("wsbridge_program_signal_exits_total", label("signal", signal_label(number)),
             t.program_exits_by_signal[number]);
  }
}

void write_traffic(Writer& w, const MetricTotals& t) {
  w.family("wsbridge_close_codes_sent_total", "counter", "Close frames sent to clients, by close code.");
  for (std::size_t slot = 0; slot < kCloseCodeSlots; ++slot) {
    w.sample("wsbridge_close_codes_sent_total", label("code", close_code_label(slot)), t.close_codes_sent[slot]);
  }
  w.family("wsbridge_close_codes_received_total", "counter", "Close frames received from clients, by close code.");
  for (std::size_t slot = 0; slot < kCloseCodeSlots; ++slot) {
    w.sample("wsbridge_close_codes_received_total", label("code", close_code_label(slot)),
             t.close_codes_received[slot]);
  }
  struct PerDirection {
    const char* name;
    const char* help;
    const std::array<std::uint64_t, kDirectionCount>& values;
  };
  const PerDirection families[] = {
      {"wsbridge_messages_total", "WebSocket messages relayed, by direction.", t.messages},
      {"wsbridge_message_bytes_total", "Payload bytes of the relayed messages, by direction.", t.bytes},
      {"wsbridge_backpressure_pauses_total", "Times a side's reads were paused because the other side was full.",
       t.backpressure_pauses},
  };
  for (const PerDirection& f : families) {
    w.family(f.name, "counter", f.help);
    for (std::size_t d = 0; d < kDirectionCount; ++d) {
      w.sample(f.name, label("direction", kDirectionLabels[d]), f.values[d]);
    }
  }
}

void write_rooms(Writer& w, const MetricTotals& t) {
  w.single("wsbridge_rooms_open", "gauge", "Broadcast rooms with a running program now.", t.rooms_open);
  w.single("wsbridge_room_clients", "gauge", "Clients in broadcast rooms now.", t.room_clients);
  w.single("wsbridge_room_messages_dropped_total", "counter",
           "Messages not sent to a room client whose queue was full (--slow-client=drop).",
           t.room_messages_dropped);
  w.single("wsbridge_room_slow_clients_closed_total", "counter",
           "Room clients closed with 1008 because their queue was full (--slow-client=close).",
           t.room_slow_clients_closed);
  w.single("wsbridge_room_lease_changes_total", "counter",
           "Room leases taken, taken over from an ended instance, or lost (--room-broker).", t.room_lease_changes);
  w.single("wsbridge_room_broker_reconnects_total", "counter",
           "Connections to the room broker made again after a loss (--room-broker).", t.room_broker_reconnects);
}

void write_process(Writer& w, const Scrape& scrape) {
  const ProcessStats& p = scrape.process;
  w.single("wsbridge_log_lines_dropped_total", "counter",
           "Log lines dropped because the log's reader fell more than 1 MiB behind.", scrape.log_lines_dropped);
  if (p.cpu_seconds) {
    w.family("process_cpu_seconds_total", "counter", "User and system CPU time of the server process, in seconds.");
    w.sample("process_cpu_seconds_total", {}, format_seconds(*p.cpu_seconds));
  }
  if (p.resident_memory_bytes) {
    w.single("process_resident_memory_bytes", "gauge", "Resident memory of the server process, in bytes.",
             *p.resident_memory_bytes);
  }
  if (p.open_fds) w.single("process_open_fds", "gauge", "Open file descriptors.", *p.open_fds);
  if (p.max_fds) w.single("process_max_fds", "gauge", "Limit on open file descriptors.", *p.max_fds);
  if (p.start_time_seconds) {
    w.family("process_start_time_seconds", "gauge", "Start time of the process since the Unix epoch, in seconds.");
    w.sample("process_start_time_seconds", {}, format_seconds(*p.start_time_seconds));
  }
}

}  // namespace

std::string render_exposition(const Scrape& scrape) {
  Writer w;
  write_connections(w, scrape);
  write_programs(w, scrape.totals);
  write_traffic(w, scrape.totals);
  write_rooms(w, scrape.totals);
  write_process(w, scrape);
  return w.take();
}

}  // namespace wsbridge::metrics
