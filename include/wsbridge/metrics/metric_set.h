// Everything the server counts, as one set of fields. Each worker loop keeps
// its own set of LoopCounters (written by that loop only, no lock on the
// message path); a scrape adds the loops' sets into one of plain integers.
// Label sets are fixed and small: refusals by the refusal table's reason,
// exits by class and signal number, close codes by a bounded slot.
#pragma once
#include <array>
#include <cstddef>
#include <cstdint>

#include "wsbridge/http/refusal.h"
#include "wsbridge/metrics/duration_histogram.h"
#include "wsbridge/metrics/loop_counter.h"

namespace wsbridge::metrics {

// Close codes are counted per code for the ones RFC 6455 defines (1000 to
// 1015), in one slot for the private range 4000-4999 (a program's exit
// status may be mapped there) and one for anything else, so a client cannot
// make the series grow by sending many codes.
inline constexpr std::size_t kCloseCodeSlots = 16 + 2;
inline constexpr std::size_t kPrivateCloseCodeSlot = 16;
inline constexpr std::size_t kOtherCloseCodeSlot = 17;
std::size_t close_code_slot(std::uint16_t code) noexcept;

// Signals 1 to 64 (Linux has no more), by number; slot 0 is unused.
inline constexpr std::size_t kSignalSlots = 65;

// Data in each direction: what clients send to programs, and back.
enum class Direction : std::uint8_t { ToProgram, ToClient };
inline constexpr std::size_t kDirectionCount = 2;

template <typename Count>
struct MetricSet {
  // Connections (the open ones are counted by the loop's own connection
  // list, ServerContext::connection_count, and added at the scrape).
  Count connections_accepted{};
  Count tls_handshakes_failed{};
  // Requests refused before (or instead of) being served, by reason.
  std::array<Count, http::kRefusalCount> refusals{};
  // Programs: started, running now (a gauge), how long from the request to
  // the running program, and how they ended.
  Count programs_started{};
  Count programs_running{};
  DurationHistogram<Count> program_start_duration{};
  Count program_exits_success{};  // status 0
  Count program_exits_failure{};  // any other status
  std::array<Count, kSignalSlots> program_exits_by_signal{};
  // WebSocket traffic.
  std::array<Count, kCloseCodeSlots> close_codes_sent{};
  std::array<Count, kCloseCodeSlots> close_codes_received{};
  std::array<Count, kDirectionCount> messages{};
  std::array<Count, kDirectionCount> bytes{};
  // Reads paused because the other side did not keep up: ToProgram counts
  // pauses of a client's socket (the program's stdin was full), ToClient
  // pauses of a program's stdout (the client's socket was full).
  std::array<Count, kDirectionCount> backpressure_pauses{};
  // --broadcast: rooms open and their clients now (gauges), messages not
  // sent to a client over --room-queue (--slow-client=drop), and clients
  // closed for it (--slow-client=close).
  Count rooms_open{};
  Count room_clients{};
  Count room_messages_dropped{};
  Count room_slow_clients_closed{};
  // --room-broker: rooms this loop came to own or stopped owning (a lease
  // taken, taken over, or lost), and reconnects to the broker.
  Count room_lease_changes{};
  Count room_broker_reconnects{};

  // Calls visit(mine, theirs) for every counter of this set and `other`, in
  // declaration order: the one place that lists the fields, so adding a
  // field cannot be forgotten when sets are summed.
  template <typename Other, typename Visit>
  void visit_with(Other& other, Visit&& visit) const;
};

// One loop's own counters, and the sum over every loop as a scrape sees it.
using LoopMetrics = MetricSet<LoopCounter>;
using MetricTotals = MetricSet<std::uint64_t>;

template <typename Count>
template <typename Other, typename Visit>
void MetricSet<Count>::visit_with(Other& other, Visit&& visit) const {
  auto pairs = [&visit](const auto& mine, auto& theirs) {
    for (std::size_t i = 0; i < mine.size(); ++i) visit(mine[i], theirs[i]);
  };
  visit(connections_accepted, other.connections_accepted);
  visit(tls_handshakes_failed, other.tls_handshakes_failed);
  pairs(refusals, other.refusals);
  visit(programs_started, other.programs_started);
  visit(programs_running, other.programs_running);
  pairs(program_start_duration.buckets, other.program_start_duration.buckets);
  visit(program_start_duration.sum_us, other.program_start_duration.sum_us);
  visit(program_start_duration.observations, other.program_start_duration.observations);
  visit(program_exits_success, other.program_exits_success);
  visit(program_exits_failure, other.program_exits_failure);
  pairs(program_exits_by_signal, other.program_exits_by_signal);
  pairs(close_codes_sent, other.close_codes_sent);
  pairs(close_codes_received, other.close_codes_received);
  pairs(messages, other.messages);
  pairs(bytes, other.bytes);
  pairs(backpressure_pauses, other.backpressure_pauses);
  visit(rooms_open, other.rooms_open);
  visit(room_clients, other.room_clients);
  visit(room_messages_dropped, other.room_messages_dropped);
  visit(room_slow_clients_closed, other.room_slow_clients_closed);
  visit(room_lease_changes, other.room_lease_changes);
  visit(room_broker_reconnects, other.room_broker_reconnects);
}

// Adds `loop`'s counters into `totals`.
template <typename Count>
void add_to_totals(const MetricSet<Count>& loop, MetricTotals& totals) noexcept {
  loop.visit_with(totals, [](const auto& mine, std::uint64_t& total) { total += static_cast<std::uint64_t>(mine); });
}

}  // namespace wsbridge::metrics
