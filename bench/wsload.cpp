// wsload: the load generator behind scripts/bench.sh. One workload per run,
// against a server already listening on 127.0.0.1:PORT; it prints one line
//   RESULT workload=NAME key=value ...
// that the script collects. With --server-pid it also reads the server's CPU
// time (utime+stime, with its spawner helper's), RSS and descriptors from
// /proc around the measured phase, and waits for the server's children to
// be reaped where the workload says so.
//
// Every loop is bounded by a count and by --seconds.
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <string>
#include <vector>

#include "ws_client.h"

using namespace wsload;

namespace {

constexpr std::uint8_t kText = 0x1;

struct Options {
  std::string workload;
  std::uint16_t port = 0;
  int server_pid = 0;
  // idle only: several servers, given as comma-separated lists, share the
  // connections round-robin (one process's descriptor limit cannot hold
  // 10,000 bridged connections; see docs/performance.md).
  std::vector<std::uint16_t> ports;
  std::vector<int> server_pids;
  double seconds = 5;     // measured phase, at most
  int conns = 100;        // echo, push, fanout, idle
  int window = 16;        // echo, large: messages in flight per connection
  std::size_t size = 16;  // message payload bytes
  long count = 1000000;   // upper bound on messages/connections
  int concurrency = 16;   // connect: connections in flight
  int idle = 0;           // connect: idle connections held meanwhile
  long expect = 0;        // push, fanout: messages each client should get
  bool raw = false;       // floor: plain TCP echo, no handshake
  // echo: what each message holds: "fill" (one letter repeated), "json"
  // (JSON-like records, as line protocols carry) or "base64" (random bytes
  // in base64: text that DEFLATE can shrink only by its 6-of-8-bit alphabet).
  std::string payload = "fill";
  bool offer_deflate = false;  // echo: offer permessage-deflate, send compressed when agreed
};

[[noreturn]] void usage() {
  std::fprintf(stderr,
               "usage: wsload connect|echo|push|fanout|pingpong|idle|large --port=P [--server-pid=PID]\n"
               "  (idle: --port=P1,P2,... --server-pid=PID1,PID2,... spreads the connections)\n"
               "  [--seconds=S] [--conns=N] [--window=W] [--size=B] [--count=N] [--concurrency=C]\n"
               "  [--idle=N] [--expect=N] [--raw] [--payload=fill|json|base64] [--offer-deflate]\n");
  std::exit(2);
}

std::vector<std::string> split_commas(const std::string& list) {
  std::vector<std::string> parts;
  std::size_t start = 0;
  while (start <= list.size()) {
    std::size_t comma = list.find(',', start);
    if (comma == std::string::npos) comma = list.size();
    if (comma > start) parts.push_back(list.substr(start, comma - start));
    start = comma + 1;
  }
  return parts;
}

Options parse(int argc, char** argv) {
  if (argc < 2) usage();
  Options o;
  o.workload = argv[1];
  for (int i = 2; i < argc; ++i) {
    std::string arg = argv[i];
    std::size_t eq = arg.find('=');
    std::string name = arg.substr(0, eq);
    std::string value = eq == std::string::npos ? "" : arg.substr(eq + 1);
    if (name == "--port") {
      for (const std::string& p : split_commas(value)) o.ports.push_back(static_cast<std::uint16_t>(std::stoi(p)));
      if (!o.ports.empty()) o.port = o.ports.front();
    } else if (name == "--server-pid") {
      for (const std::string& p : split_commas(value)) o.server_pids.push_back(std::stoi(p));
      if (!o.server_pids.empty()) o.server_pid = o.server_pids.front();
    }
    else if (name == "--seconds") o.seconds = std::stod(value);
    else if (name == "--conns") o.conns = std::stoi(value);
    else if (name == "--window") o.window = std::stoi(value);
    else if (name == "--size") o.size = std::stoul(value);
    else if (name == "--count") o.count = std::stol(value);
    else if (name == "--concurrency") o.concurrency = std::stoi(value);
    else if (name == "--idle") o.idle = std::stoi(value);
    else if (name == "--expect") o.expect = std::stol(value);
    else if (name == "--raw") o.raw = true;
    else if (name == "--payload" && (value == "fill" || value == "json" || value == "base64")) o.payload = value;
    else if (name == "--offer-deflate") o.offer_deflate = true;
    else usage();
  }
  if (o.port == 0) usage();
  if (o.workload != "idle" && (o.ports.size() > 1 || o.server_pids.size() > 1)) usage();
  return o;
}

// CPU and wall time of the measured phase.
struct Meter {
  int pid;
  ProcessSample before;
  double start;
  explicit Meter(int server_pid) : pid(server_pid), before(sample_process(server_pid)), start(now_seconds()) {}
  double elapsed() const { return now_seconds() - start; }
  double cpu() const { return sample_process(pid).cpu_seconds - before.cpu_seconds; }
};

// Waits (bounded) until the server has reaped every child.
bool wait_reaped(int pid, double seconds) {
  if (pid <= 0) return true;
  double until = now_seconds() + seconds;
  while (count_children(pid) > 0) {
    if (now_seconds() > until) return false;
    struct timespec ts {0, 2000000};
    nanosleep(&ts, nullptr);
  }
  return true;
}

// ------------------------------------------------------------------ idle

// Holds N upgraded connections, each proven live by one echo through its
// child, opened a few at a time so the listen backlog never overflows.
class IdleHolder final : public Handler {
 public:
  IdleHolder(Loop& loop, const Options& o) : loop_(loop), o_(o), frame_(make_client_frame(kText, "idle")) {}

  // Returns false if not all connections could be established in time.
  bool open_all(int n, double until) {
    target_ = n;
    auto topped_up = [&] {
      while (started_ < target_ && started_ - ready_ - failed_ < 64) {
        ++started_;
        std::uint16_t port = o_.ports[static_cast<std::size_t>(started_) % o_.ports.size()];
        if (!loop_.connect(port, this, false)) ++failed_;
      }
      return ready_ + failed_ >= target_;
    };
    return loop_.run(topped_up, until) && failed_ == 0;
  }
  void close_all() { closing_ = true; for (Conn* c : held_) loop_.start_close(*c); }
  int ready() const { return ready_; }
  int failed() const { return failed_; }
  std::size_t held() const { return held_.size(); }

  void on_open(Conn& conn) override { loop_.send(conn, frame_); }
  void on_message(Conn& conn, std::uint8_t, std::uint64_t) override {
    if (conn.received++ == 0) {
      ++ready_;
      held_.push_back(&conn);
    }
  }
  void on_closed(Conn& conn, bool) override {
    if (conn.received == 0) ++failed_;
    else if (!closing_) ++dropped_;
    held_.erase(std::remove(held_.begin(), held_.end(), &conn), held_.end());
  }
  int dropped() const { return dropped_; }

 private:
  Loop& loop_;
  const Options& o_;
  std::string frame_;
  std::vector<Conn*> held_;
  int target_ = 0, started_ = 0, ready_ = 0, failed_ = 0, dropped_ = 0;
  bool closing_ = false;
};

// RSS and descriptors of every server process, each added up.
ProcessSample total_of(const std::vector<int>& pids) {
  ProcessSample sum;
  for (int pid : pids) {
    ProcessSample one = sample_process(pid);
    sum.rss_kib += one.rss_kib;
    sum.descriptors += one.descriptors;
    sum.open_files_limit = one.open_files_limit;  // the same for every instance
  }
  return sum;
}

int run_idle(const Options& o) {
  Loop loop;
  IdleHolder idle(loop, o);
  ProcessSample before = total_of(o.server_pids);
  double t0 = now_seconds();
  // 10,000 connections open at about a thousand a second on a loaded machine.
  bool ok = idle.open_all(o.conns, t0 + std::max(120.0, o.conns / 50.0));
  double open_seconds = now_seconds() - t0;
  // Let the servers settle (freed buffers, finished spawns) before sampling.
  loop.run([] { return false; }, now_seconds() + 1.0);
  ProcessSample after = total_of(o.server_pids);
  int children = 0;
  for (int pid : o.server_pids) children += count_children(pid);
  double held = idle.ready() > 0 ? idle.ready() : 1;
  double kib_per_conn = static_cast<double>(after.rss_kib - before.rss_kib) / held;
  double fds_per_conn = static_cast<double>(after.descriptors - before.descriptors) / held;
  // One process runs out of descriptors before memory: what it holds with no
  // connection is taken off its limit, and the rest shared among connections.
  const long fds_before_one = before.descriptors / static_cast<long>(std::max<std::size_t>(1, o.server_pids.size()));
  const long conns_per_process =
      fds_per_conn > 0 ? static_cast<long>((after.open_files_limit - fds_before_one) / fds_per_conn) : 0;
  idle.close_all();
  loop.run([&] { return loop.live() == 0; }, now_seconds() + 30);
  bool reaped = true;
  for (int pid : o.server_pids) reaped = wait_reaped(pid, 30) && reaped;
  // fds_before is what a server holds with no connection, for the
  // connections-per-process figure of scripts/bench.sh.
  std::printf("RESULT workload=idle conns=%d servers=%zu ok=%d errors=%d dropped=%d children=%d rss_before_kib=%ld "
              "rss_after_kib=%ld kib_per_conn=%.2f fds_before=%ld fds_after=%ld fds_per_conn=%.2f fds_limit=%ld "
              "conns_per_process=%ld open_s=%.2f reaped=%d\n",
              idle.ready(), o.ports.size(), ok ? 1 : 0, idle.failed(), idle.dropped(), children, before.rss_kib,
              after.rss_kib, kib_per_conn, before.descriptors, after.descriptors, fds_per_conn, after.open_files_limit,
              conns_per_process, open_seconds,
              reaped ? 1 : 0);
  return ok ? 0 : 1;
}

// --------------------------------------------------------------- connect

// connect, upgrade, one echo, close; `concurrency` in flight at a time.
class Churn final : public Handler {
 public:
  Churn(Loop& loop, const Options& o) : loop_(loop), o_(o), frame_(make_client_frame(kText, "hello")) {}

  void run(double until) {
    until_ = until;
    top_up();
    loop_.run([&] { top_up(); return in_flight_ == 0 && !may_start(); }, until + 10);
  }
  long completed = 0, failed = 0;

  void on_open(Conn& conn) override { loop_.send(conn, frame_); }
  void on_message(Conn& conn, std::uint8_t, std::uint64_t) override {
    ++conn.received;
    loop_.start_close(conn);
  }
  void on_closed(Conn& conn, bool fail) override {
    --in_flight_;
    if (fail || conn.received == 0) ++failed;
    else ++completed;
  }

 private:
  bool may_start() const { return started_ < o_.count && now_seconds() < until_; }
  void top_up() {
    while (in_flight_ < o_.concurrency && may_start()) {
      ++started_;
      if (loop_.connect(o_.port, this, false)) ++in_flight_;
      else ++failed;
    }
  }
  Loop& loop_;
  const Options& o_;
  std::string frame_;
  double until_ = 0;
  long started_ = 0;
  int in_flight_ = 0;
};

int run_connect(const Options& o) {
  Loop loop;
  IdleHolder idle(loop, o);
  ProcessSample idle_before = sample_process(o.server_pid);
  if (o.idle > 0 && !idle.open_all(o.idle, now_seconds() + 120)) {
    std::printf("RESULT workload=connect ok=0 idle_ready=%d idle_errors=%d\n", idle.ready(), idle.failed());
    return 1;
  }
  if (o.idle > 0) loop.run([] { return false; }, now_seconds() + 1.0);
  ProcessSample idle_after = sample_process(o.server_pid);

  Churn churn(loop, o);
  Meter meter(o.server_pid);
  churn.run(meter.start + o.seconds);
  // "Until reaped": the churn is done when the server has reaped every child
  // it started for it (the idle ones are still alive, so count down to them).
  double until = now_seconds() + 30;
  bool reaped = true;
  while (o.server_pid > 0 && count_children(o.server_pid) > idle.ready()) {
    if (now_seconds() > until) { reaped = false; break; }
    loop.poll_once(2);
  }
  double elapsed = meter.elapsed();
  double cpu = meter.cpu();
  double rate = churn.completed / elapsed;
  std::printf("RESULT workload=connect conns_per_s=%.1f cpu_us_per_conn=%.1f completed=%ld errors=%ld "
              "seconds=%.2f reaped=%d idle=%d idle_kib_per_conn=%.2f dropped=%d ok=%d\n",
              rate, churn.completed ? cpu * 1e6 / churn.completed : 0, churn.completed, churn.failed, elapsed,
              reaped ? 1 : 0, idle.ready(),
              idle.ready() ? static_cast<double>(idle_after.rss_kib - idle_before.rss_kib) / idle.ready() : 0,
              idle.dropped(), churn.failed == 0 && reaped && idle.dropped() == 0 ? 1 : 0);
  idle.close_all();
  loop.run([&] { return loop.live() == 0; }, now_seconds() + 30);
  wait_reaped(o.server_pid, 30);
  return 0;
}

// ------------------------------------------------------------------ echo

// A message of exactly `size` bytes of the kind --payload names.
std::string make_payload(const std::string& kind, std::size_t size) {
  std::string text;
  if (kind == "json") {
    static const char* const kUsers[] = {"alice", "bob", "carol", "dave"};
    for (unsigned i = 0; text.size() < size; ++i) {
      char record[160];
      std::snprintf(record, sizeof record,
                    "{\"seq\":%u,\"user\":\"%s\",\"action\":\"update\",\"temperature\":%u.%u,"
                    "\"status\":\"ok\",\"ts\":\"2026-12-07T18:%02u:%02uZ\"}",
                    1000 + i * 7, kUsers[i % 4], 18 + i % 7, i % 10, i % 60, (i * 13) % 60);
      text += record;
    }
  } else if (kind == "base64") {
    static const char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    unsigned state = 12345;  // fixed seed: the same message in every run
    while (text.size() < size) {
      state = state * 1103515245u + 12345u;
      text += kAlphabet[(state >> 16) & 63];
    }
  }
  text.resize(size, 'e');
  return text;
}

// `conns` connections, each keeping `window` messages in flight. With
// --offer-deflate a connection the server agreed it with sends the message
// compressed (its replies come back compressed when over the server's
// threshold); message sizes are then checked only on uncompressed replies.
class Echo final : public Handler {
 public:
  Echo(Loop& loop, const Options& o)
      : loop_(loop), o_(o), frame_(make_client_frame(kText, make_payload(o.payload, o.size))),
        compressed_frame_(make_compressed_client_frame(kText, make_payload(o.payload, o.size))) {}
  long opened = 0, failed = 0, received = 0, sent = 0;
  bool sending = false;
  double stop_at = 0;

  void start_all() {
    sending = true;
    for (Conn* c : conns_) {
      for (int i = 0; i < o_.window; ++i) send_one(*c);
      loop_.flush(*c);
    }
  }
  void close_all() { for (Conn* c : conns_) loop_.start_close(*c); }
  long outstanding() const { return sent - received; }

  void on_open(Conn& conn) override {
    ++opened;
    conns_.push_back(&conn);
  }
  void on_message(Conn& conn, std::uint8_t, std::uint64_t size) override {
    if (size != o_.size && !conn.message_compressed) ++bad_size;
    ++received;
    ++conn.received;
    if (sending && now_seconds() < stop_at) send_one(conn);
    // Loop::on_readable flushes once per read, so replies are batched.
  }
  void on_closed(Conn& conn, bool fail) override {
    if (fail) ++failed;
    conns_.erase(std::remove(conns_.begin(), conns_.end(), &conn), conns_.end());
  }
  // Bytes on the wire each way, and connections that agreed on deflate.
  void add_wire(std::uint64_t& in, std::uint64_t& out, long& deflated) const {
    for (const Conn* c : conns_) {
      in += c->wire_in;
      out += c->wire_out;
      deflated += c->deflate ? 1 : 0;
    }
  }
  long bad_size = 0;

 private:
  void send_one(Conn& conn) {
    if (sent >= o_.count) return;
    ++sent;
    ++conn.sent;
    loop_.queue(conn, conn.deflate ? compressed_frame_ : frame_);
  }
  Loop& loop_;
  const Options& o_;
  std::string frame_;
  std::string compressed_frame_;
  std::vector<Conn*> conns_;
};

int run_echo(const Options& o) {
  Loop loop;
  if (o.offer_deflate) loop.offer_deflate();
  Echo echo(loop, o);
  for (int i = 0; i < o.conns; ++i) {
    if (!loop.connect(o.port, &echo, o.raw)) ++echo.failed;
  }
  loop.run([&] { return echo.opened + echo.failed >= o.conns; }, now_seconds() + 30);
  Meter meter(o.server_pid);
  echo.stop_at = meter.start + o.seconds;
  echo.start_all();
  loop.run([&] { return now_seconds() >= echo.stop_at && echo.outstanding() == 0; }, echo.stop_at + 10);
  double elapsed = meter.elapsed();
  double cpu = meter.cpu();
  std::uint64_t wire_in = 0, wire_out = 0;
  long deflated = 0;
  echo.add_wire(wire_in, wire_out, deflated);
  std::printf("RESULT workload=echo msgs_per_s=%.0f cpu_us_per_msg=%.3f wire_in_per_msg=%.1f wire_out_per_msg=%.1f "
              "deflate_conns=%ld received=%ld sent=%ld conns=%ld errors=%ld bad_size=%ld seconds=%.2f ok=%d\n",
              echo.received / elapsed, echo.received ? cpu * 1e6 / echo.received : 0,
              echo.received ? static_cast<double>(wire_in) / echo.received : 0,
              echo.sent ? static_cast<double>(wire_out) / echo.sent : 0, deflated, echo.received, echo.sent,
              echo.opened, echo.failed, echo.bad_size, elapsed,
              echo.failed == 0 && echo.outstanding() == 0 && echo.bad_size == 0 ? 1 : 0);
  echo.close_all();
  loop.run([&] { return loop.live() == 0; }, now_seconds() + 10);
  wait_reaped(o.server_pid, 10);
  return 0;
}

// ------------------------------------------------------------------ push

// What the push and fanout clients count: messages in all and per
// connection, and how the connections ended.
struct ReceiveTally {
  long opened = 0, closed = 0, failed = 0, received = 0;
  std::vector<long> per_conn;  // messages each closed connection received

  void count_message(Conn& conn) {
    ++received;
    ++conn.received;
  }
  void count_close(const Conn& conn, bool fail) {
    ++closed;
    if (fail) ++failed;
    per_conn.push_back(static_cast<long>(conn.received));
  }
  // Connections that did not receive exactly `expect` messages (0: any count).
  long incomplete(long expect) const {
    long n = 0;
    for (long got : per_conn) n += expect > 0 && got != expect ? 1 : 0;
    return n;
  }
};

// The server's child prints lines as fast as it can; count what arrives.
class Push final : public Handler, public ReceiveTally {
 public:
  void on_open(Conn&) override { ++opened; }
  void on_message(Conn& conn, std::uint8_t, std::uint64_t) override { count_message(conn); }
  void on_closed(Conn& conn, bool fail) override { count_close(conn, fail); }
};

int run_push(const Options& o) {
  Loop loop;
  Push push;
  Meter meter(o.server_pid);
  long not_started = 0;
  for (int i = 0; i < o.conns; ++i) {
    if (!loop.connect(o.port, &push, false)) ++not_started;
  }
  push.failed += not_started;
  bool done = loop.run([&] { return push.closed + not_started >= o.conns; }, meter.start + o.seconds);
  double elapsed = meter.elapsed();
  double cpu = meter.cpu();
  const long short_conns = push.incomplete(o.expect);
  std::printf("RESULT workload=push msgs_per_s=%.0f cpu_us_per_msg=%.3f received=%ld conns=%ld errors=%ld "
              "incomplete=%ld seconds=%.2f finished=%d ok=%d\n",
              push.received / elapsed, push.received ? cpu * 1e6 / push.received : 0, push.received, push.opened,
              push.failed, short_conns, elapsed, done ? 1 : 0,
              done && push.failed == 0 && short_conns == 0 ? 1 : 0);
  loop.run([&] { return loop.live() == 0; }, now_seconds() + 5);
  wait_reaped(o.server_pid, 10);
  return 0;
}

// ---------------------------------------------------------------- fanout

// Clients of one room: all join (paced, 64 in flight, so the listen backlog
// never overflows); then each says it is ready (one message: the program
// starts printing once it has heard from every client) and counts the lines
// the program prints for all of them, until it ends and the server closes
// them. The server's RSS is read after the first join, after the last and
// before the first line: kib_per_client is what each client after the
// first adds (the first also pays for the room and its program).
class Fanout final : public Handler, public ReceiveTally {
 public:
  Fanout(Loop& loop, const Options& o) : loop_(loop), o_(o), ready_frame_(make_client_frame(kText, "ready")) {}
  long started = 0;

  // Joins clients until `target` have (or failed to).
  bool top_up(long target) {
    while (started < target && started - opened - failed < 64) {
      ++started;
      if (!loop_.connect(o_.port, this, false)) { ++failed; ++closed; }
    }
    return opened + failed >= target;
  }
  void say_ready() {
    for (Conn* conn : joined_) loop_.send(*conn, ready_frame_);
  }
  void on_open(Conn& conn) override {
    ++opened;
    joined_.push_back(&conn);
  }
  void on_message(Conn& conn, std::uint8_t, std::uint64_t) override { count_message(conn); }
  void on_closed(Conn& conn, bool fail) override {
    count_close(conn, fail);
    joined_.erase(std::remove(joined_.begin(), joined_.end(), &conn), joined_.end());
  }

 private:
  Loop& loop_;
  const Options& o_;
  std::string ready_frame_;
  std::vector<Conn*> joined_;
};

int run_fanout(const Options& o) {
  Loop loop;
  Fanout fanout(loop, o);
  ProcessSample empty = sample_process(o.server_pid);
  double give_up = now_seconds() + o.seconds;
  // The first client alone: it also pays for the room and its program,
  // which the others share.
  bool joined = loop.run([&] { return fanout.top_up(1); }, give_up);
  ProcessSample one = sample_process(o.server_pid);
  joined = joined && loop.run([&] { return fanout.top_up(o.conns); }, give_up);
  // Joined, before the program prints: what each further client costs.
  ProcessSample full = sample_process(o.server_pid);
  Meter meter(o.server_pid);
  fanout.say_ready();
  bool done = joined && loop.run([&] { return fanout.closed >= o.conns; }, give_up);
  double elapsed = meter.elapsed();
  double cpu = meter.cpu();
  const long short_conns = fanout.incomplete(o.expect);
  double kib_per_client = o.conns > 1 ? static_cast<double>(full.rss_kib - one.rss_kib) / (o.conns - 1)
                                      : static_cast<double>(full.rss_kib - empty.rss_kib);
  std::printf("RESULT workload=fanout clients=%d msgs_per_s=%.0f cpu_us_per_msg=%.3f kib_per_client=%.2f "
              "received=%ld errors=%ld incomplete=%ld seconds=%.2f finished=%d ok=%d\n",
              o.conns, fanout.received / elapsed, fanout.received ? cpu * 1e6 / fanout.received : 0, kib_per_client,
              fanout.received, fanout.failed, short_conns, elapsed, done ? 1 : 0,
              done && fanout.failed == 0 && short_conns == 0 ? 1 : 0);
  loop.run([&] { return loop.live() == 0; }, now_seconds() + 5);
  wait_reaped(o.server_pid, 10);
  return 0;
}

// -------------------------------------------------------------- pingpong

class PingPong final : public Handler {
 public:
  PingPong(Loop& loop, const Options& o) : loop_(loop), o_(o), frame_(make_client_frame(kText, std::string(o.size, 'p'))) {}
  std::vector<double> latencies;
  bool open = false, failed = false, done = false;
  double stop_at = 0;
  Conn* conn_ = nullptr;

  void start() { send(*conn_); }
  void on_open(Conn& conn) override {
    open = true;
    conn_ = &conn;
  }
  void on_message(Conn& conn, std::uint8_t, std::uint64_t) override {
    latencies.push_back(now_seconds() - conn.stamp);
    if (static_cast<long>(latencies.size()) >= o_.count || now_seconds() >= stop_at) {
      done = true;
      return;
    }
    send(conn);
  }
  void on_closed(Conn&, bool fail) override {
    failed = failed || fail || !done;
    done = true;
  }

 private:
  void send(Conn& conn) {
    conn.stamp = now_seconds();
    loop_.send(conn, frame_);
  }
  Loop& loop_;
  const Options& o_;
  std::string frame_;
};

int run_pingpong(const Options& o) {
  Loop loop;
  PingPong pp(loop, o);
  if (!loop.connect(o.port, &pp, o.raw)) return 1;
  loop.run([&] { return pp.open || pp.failed || loop.live() == 0; }, now_seconds() + 10);
  if (!pp.open) return 1;
  Meter meter(o.server_pid);
  pp.stop_at = meter.start + o.seconds;
  pp.start();
  loop.run([&] { return pp.done; }, pp.stop_at + 10);
  double elapsed = meter.elapsed();
  double cpu = meter.cpu();
  std::vector<double> sorted = pp.latencies;
  // The first tenth (at most 1000) is a warm-up, not counted: the first
  // round trips pay for page faults and cold caches.
  std::size_t warm = std::min<std::size_t>(sorted.size() / 10, 1000);
  sorted.erase(sorted.begin(), sorted.begin() + static_cast<long>(warm));
  std::sort(sorted.begin(), sorted.end());
  auto pct = [&](double p) {
    if (sorted.empty()) return 0.0;
    std::size_t i = static_cast<std::size_t>(p * static_cast<double>(sorted.size() - 1));
    return sorted[i] * 1e6;
  };
  std::printf("RESULT workload=pingpong p50_us=%.1f p99_us=%.1f p999_us=%.1f round_trips=%zu cpu_us_per_msg=%.2f "
              "seconds=%.2f ok=%d\n",
              pct(0.5), pct(0.99), pct(0.999), pp.latencies.size(),
              pp.latencies.empty() ? 0 : cpu * 1e6 / static_cast<double>(pp.latencies.size()), elapsed,
              pp.failed ? 0 : 1);
  if (pp.conn_ && loop.live() > 0) loop.start_close(*pp.conn_);
  loop.run([&] { return loop.live() == 0; }, now_seconds() + 5);
  wait_reaped(o.server_pid, 10);
  return 0;
}

// ----------------------------------------------------------------- large

// Big text messages through `cat`, `window` in flight, counted in payload
// bytes (a server may re-split a message; the bytes must all come back).
class Large final : public Handler {
 public:
  Large(Loop& loop, const Options& o) : loop_(loop), o_(o), frame_(make_client_frame(kText, std::string(o.size, 'L'))) {}
  bool open = false, failed = false, closed = false;
  long sent = 0;
  double stop_at = 0;
  Conn* conn_ = nullptr;

  void start() {
    for (int i = 0; i < o_.window; ++i) send_one();
    loop_.flush(*conn_);
  }
  std::uint64_t expected() const { return static_cast<std::uint64_t>(sent) * o_.size; }
  void on_open(Conn& conn) override {
    open = true;
    conn_ = &conn;
  }
  void on_message(Conn& conn, std::uint8_t, std::uint64_t) override {
    // Keep `window` messages' worth of bytes in flight.
    while (conn.payload_bytes + static_cast<std::uint64_t>(o_.window - 1) * o_.size >= expected() &&
           now_seconds() < stop_at && sent < o_.count) {
      send_one();
    }
  }
  void on_closed(Conn&, bool fail) override {
    failed = failed || fail;
    closed = true;
  }

 private:
  void send_one() {
    ++sent;
    loop_.queue(*conn_, frame_);
  }
  Loop& loop_;
  const Options& o_;
  std::string frame_;
};

int run_large(const Options& o) {
  Loop loop;
  Large large(loop, o);
  if (!loop.connect(o.port, &large, false)) return 1;
  loop.run([&] { return large.open || large.closed; }, now_seconds() + 10);
  if (!large.open) return 1;
  Meter meter(o.server_pid);
  large.stop_at = meter.start + o.seconds;
  large.start();
  loop.run([&] { return large.closed || (large.conn_->payload_bytes >= large.expected() && now_seconds() >= large.stop_at); },
           large.stop_at + 20);
  double elapsed = meter.elapsed();
  double cpu = meter.cpu();
  std::uint64_t bytes = large.closed ? 0 : large.conn_->payload_bytes;
  double mib = static_cast<double>(bytes) / (1024.0 * 1024.0);
  std::printf("RESULT workload=large mib_per_s=%.1f cpu_ms_per_mib=%.3f messages=%ld bytes=%llu seconds=%.2f ok=%d\n",
              mib / elapsed, mib > 0 ? cpu * 1e3 / mib : 0, large.sent, static_cast<unsigned long long>(bytes),
              elapsed, !large.failed && !large.closed && bytes == large.expected() ? 1 : 0);
  if (!large.closed) loop.start_close(*large.conn_);
  loop.run([&] { return loop.live() == 0; }, now_seconds() + 5);
  wait_reaped(o.server_pid, 10);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  Options o = parse(argc, argv);
  if (o.workload == "connect") return run_connect(o);
  if (o.workload == "echo") return run_echo(o);
  if (o.workload == "push") return run_push(o);
  if (o.workload == "fanout") return run_fanout(o);
  if (o.workload == "pingpong") return run_pingpong(o);
  if (o.workload == "idle") return run_idle(o);
  if (o.workload == "large") return run_large(o);
  usage();
}
