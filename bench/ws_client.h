// A minimal WebSocket client event loop for load generation: epoll,
// edge-triggered, one thread, many connections. It shares no code with the
// server on purpose, so a bug in the server's framing cannot hide behind the
// same bug here. Only what a benchmark needs: the RFC 6455 client handshake,
// masked frames out (pre-built by the caller), unmasked frames in, and the
// close handshake. A "raw" connection skips the handshake and parses frames
// as they come back from a plain TCP echo (the floor measurement).
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace wsload {

// Monotonic clock in seconds.
double now_seconds() noexcept;

// A complete masked client frame, ready to send any number of times (the
// mask key is fixed, so the masked bytes are the same every time).
std::string make_client_frame(std::uint8_t opcode, std::string_view payload);
// The same message compressed as permessage-deflate (RFC 7692) sends it
// without context takeover: raw DEFLATE, the final empty block's 4 bytes
// dropped, RSV1 set. The same bytes every time, like make_client_frame.
std::string make_compressed_client_frame(std::uint8_t opcode, std::string_view payload);

struct Conn;

class Handler {
 public:
  // The upgrade succeeded (or, raw, the TCP connection is up).
  virtual void on_open(Conn& conn) = 0;
  // One whole data message arrived; `size` is its payload length.
  virtual void on_message(Conn& conn, std::uint8_t opcode, std::uint64_t size) = 0;
  // The connection is gone; `failed` when it never opened or broke with an
  // error rather than an orderly end. Called exactly once per connection.
  virtual void on_closed(Conn& conn, bool failed) = 0;

 protected:
  ~Handler() = default;
};

struct Conn {
  enum class State : std::uint8_t { Connecting, Handshake, Open, Closing, Closed };
  int fd = -1;
  State state = State::Connecting;
  bool raw = false;
  bool opened = false;
  bool close_sent = false;
  bool close_received = false;
  bool deflate = false;  // the server agreed to permessage-deflate
  Handler* handler = nullptr;
  std::string out;  // bytes not yet accepted by the kernel
  std::size_t out_offset = 0;
  std::string head;  // the handshake response so far
  // Incoming frame parser state.
  std::uint8_t header[14] = {};
  std::size_t header_have = 0;
  bool in_payload = false;
  bool frame_fin = false;
  std::uint8_t frame_opcode = 0;
  std::uint8_t message_opcode = 0;
  bool message_compressed = false;  // RSV1 on the message's first frame
  std::uint64_t payload_left = 0;
  std::uint64_t message_size = 0;
  // Counters for the workloads.
  std::uint64_t payload_bytes = 0;  // data payload bytes received
  std::uint64_t wire_in = 0;        // every byte read after the handshake
  std::uint64_t wire_out = 0;       // every byte written after the handshake
  std::uint64_t sent = 0;
  std::uint64_t received = 0;
  double stamp = 0;     // workload's own use (e.g. send time)
  double deadline = 0;  // Closing: give up waiting for the server after this
  Conn* prev = nullptr;
  Conn* next = nullptr;
};

class Loop {
 public:
  Loop();
  ~Loop();
  Loop(const Loop&) = delete;
  Loop& operator=(const Loop&) = delete;

  // Offer permessage-deflate (client_no_context_takeover) in every
  // handshake from now on; Conn::deflate says whether the server agreed.
  void offer_deflate() { offer_deflate_ = true; }
  // Starts a connection to 127.0.0.1:port. Returns nullptr (and counts a
  // connect error) when the socket cannot even be created.
  Conn* connect(std::uint16_t port, Handler* handler, bool raw);
  // Queues bytes and writes what the kernel takes now.
  void send(Conn& conn, std::string_view bytes);
  // Appends without writing; flush() after a batch.
  void queue(Conn& conn, std::string_view bytes) { conn.out.append(bytes); }
  void flush(Conn& conn);
  // Sends a close frame (1000) and waits up to `grace` seconds for the
  // server's close and EOF before closing anyway.
  void start_close(Conn& conn, double grace = 3.0);
  // Closes the descriptor now; the handler's on_closed follows.
  void abort(Conn& conn, bool failed);

  // Runs until done() is true or the monotonic clock passes `until`.
  // Returns false on timeout.
  template <typename Done>
  bool run(Done done, double until) {
    while (!done()) {
      if (now_seconds() > until) return false;
      poll_once(50);
    }
    return true;
  }
  void poll_once(int timeout_ms);

  std::size_t live() const noexcept { return live_; }
  std::uint64_t connect_errors = 0;

 private:
  void on_event(Conn& conn, std::uint32_t events);
  void on_readable(Conn& conn);
  void parse_frames(Conn& conn, const std::uint8_t* data, std::size_t size);
  void on_frame_end(Conn& conn);
  void expire_closing();
  void reap_dead();

  int epoll_fd_ = -1;
  std::uint16_t port_ = 0;
  bool offer_deflate_ = false;
  Conn* first_ = nullptr;
  Conn* dead_ = nullptr;  // closed in this poll round; freed after it
  std::size_t live_ = 0;
  double last_expiry_check_ = 0;
};

// Server-side figures read from /proc. CPU is the server's and its spawner
// helper's (wsbridge-spawn, for wsbridge); memory and descriptors are the
// server process's own: the helper's stay the same however many connections
// there are, and its descriptors count against its own limit.
struct ProcessSample {
  double cpu_seconds = 0;  // utime + stime, all threads, server + helper
  long rss_kib = 0;        // VmRSS of the server
  long descriptors = 0;    // entries of /proc/PID/fd of the server
  long open_files_limit = 0;  // the server's soft RLIMIT_NOFILE, as it runs (both raise it)
};
ProcessSample sample_process(int pid);
// Children of `pid` (all its threads) that have not been reaped yet.
int count_children(int pid);

}  // namespace wsload
