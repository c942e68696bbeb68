// WriteQueue on real streams: a pipe (as for a child's stdin) read back at
// the other end, and a SOCK_SEQPACKET socket pair where every system call
// is one message, so the number of writes the Cork saves can be counted.
// Shared blocks (a room's frames) are checked for order among the queue's
// own bytes and for their holders: each test ends with the block held by
// the test alone, whatever happened to the write.
#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "io_test_support.h"
#include "net/write_queue.h"

using io_test::as_handle;
using io_test::as_stream;
using io_test::PipeReader;
using io_test::TestLoop;
using wsbridge::net::SharedBytes;
using wsbridge::net::WriteQueue;

namespace {

constexpr std::size_t KiB = 1024;

// Bytes that differ at every offset, so a lost, doubled or reordered piece
// shows.
std::string pattern(std::size_t size, unsigned seed = 1) {
  std::mt19937 random(seed);
  std::string text(size, '\0');
  for (char& c : text) c = static_cast<char>(random() & 0xff);
  return text;
}

struct RecordingOwner final : WriteQueue::Owner {
  WriteQueue* queue = nullptr;
  int drained = 0;
  int finished = 0;
  int errors = 0;
  int last_error = 0;
  std::size_t pending_at_drain = 0;
  bool over_high_water_at_drain = true;
  std::size_t pending_at_finish = 0;
  std::function<void()> after_drain;

  void on_queue_drained(WriteQueue& q) noexcept override {
    ++drained;
    pending_at_drain = q.pending();
    over_high_water_at_drain = q.over_high_water();
    if (after_drain) after_drain();
  }
  void on_queue_finished(WriteQueue& q) noexcept override {
    ++finished;
    pending_at_finish = q.pending();
  }
  void on_queue_error(WriteQueue&, int uv_error) noexcept override {
    ++errors;
    last_error = uv_error;
  }
};

// A pipe: the queue writes into one end, a PipeReader (paused until told)
// reads the other.
struct QueuedPipe {
  uv_pipe_t writer{};
  bool writer_closed = true;
  PipeReader reader;
  WriteQueue queue;
  RecordingOwner owner;

  explicit QueuedPipe(uv_loop_t* loop) {
    int fds[2];
    REQUIRE(pipe2(fds, O_CLOEXEC) == 0);
    // The default pipe capacity, whatever the system's default is, so the
    // amounts below mean the same everywhere.
    REQUIRE(fcntl(fds[1], F_SETPIPE_SZ, static_cast<int>(64 * KiB)) >= 0);
    REQUIRE(uv_pipe_init(loop, &writer, 0) == 0);
    writer.data = this;
    writer_closed = false;
    REQUIRE(uv_pipe_open(&writer, fds[1]) == 0);
    reader.open(loop, fds[0]);
    owner.queue = &queue;
    queue.attach(as_stream(&writer), &owner);
  }
  void close_writer() {
    if (uv_is_closing(as_handle(&writer))) return;
    uv_close(as_handle(&writer), [](uv_handle_t* h) { static_cast<QueuedPipe*>(h->data)->writer_closed = true; });
  }
  void close_all() {
    close_writer();
    reader.close();
  }
  bool all_closed() const { return writer_closed && reader.closed; }
};

}  // namespace

TEST_CASE("what the kernel takes is not queued; below the high-water mark the owner is never told to resume",
          "[net_write_queue_test]") {
  TestLoop loop;
  QueuedPipe p(loop.get());
  const std::string data = pattern(200 * KiB);

  // The reader is paused: the pipe takes 64 KiB, the rest waits in the queue.
  REQUIRE(p.queue.write(data.data(), 10 * KiB));
  CHECK(p.queue.pending() == 0);
  REQUIRE(p.queue.write(data.data() + 10 * KiB, data.size() - 10 * KiB));
  CHECK(p.queue.pending() == data.size() - 64 * KiB);
  CHECK_FALSE(p.queue.over_high_water());

  p.reader.resume();
  REQUIRE(loop.run_until([&] { return p.queue.pending() == 0 && p.reader.data.size() == data.size(); }));
  CHECK(p.reader.data == data);
  CHECK(p.owner.drained == 0);
  CHECK(p.owner.errors == 0);

  p.close_all();
  REQUIRE(loop.run_until([&] { return p.all_closed(); }));
  loop.close_and_check();
}

TEST_CASE("above the high-water mark the owner is told when the queue falls to the low-water mark",
          "[net_write_queue_test]") {
  TestLoop loop;
  QueuedPipe p(loop.get());
  const std::string first = pattern(400 * KiB, 1);
  const std::string second = pattern(32 * KiB, 2);

  REQUIRE(p.queue.write(first.data(), first.size()));
  REQUIRE(p.queue.over_high_water());
  // Queued behind the write in flight: once that is done, these 32 KiB are
  // all that is left, under kLowWaterMark, while still unsent.
  REQUIRE(p.queue.write(second.data(), second.size()));
  CHECK(p.queue.pending() == first.size() + second.size() - 64 * KiB);

  p.reader.resume();
  REQUIRE(loop.run_until([&] { return p.owner.drained > 0; }));
  CHECK(p.owner.pending_at_drain <= WriteQueue::kLowWaterMark);
  CHECK(p.owner.pending_at_drain == second.size());
  CHECK_FALSE(p.owner.over_high_water_at_drain);

  REQUIRE(loop.run_until([&] { return p.reader.data.size() == first.size() + second.size(); }));
  CHECK(p.reader.data == first + second);
  CHECK(p.owner.drained == 1);
  CHECK(p.owner.errors == 0);

  p.close_all();
  REQUIRE(loop.run_until([&] { return p.all_closed(); }));
  loop.close_and_check();
}

TEST_CASE("a producer that stops at the high-water mark and resumes when drained keeps the queue bounded",
          "[net_write_queue_test]") {
  TestLoop loop;
  QueuedPipe p(loop.get());
  const std::string data = pattern(4 * 1024 * KiB, 3);
  constexpr std::size_t kChunk = 16 * KiB;
  std::size_t produced = 0;
  std::size_t most_pending = 0;
  // Relays as Connection does: write while under the mark, then wait to be
  // told, never writing while over it.
  auto produce = [&] {
    while (produced < data.size() && !p.queue.over_high_water()) {
      const std::size_t n = std::min(kChunk, data.size() - produced);
      REQUIRE(p.queue.write(data.data() + produced, n));
      produced += n;
      most_pending = std::max(most_pending, p.queue.pending());
    }
    if (produced == data.size()) p.queue.finish_then();
  };
  p.owner.after_drain = produce;
  produce();
  REQUIRE(p.queue.over_high_water());

  p.reader.resume();
  REQUIRE(loop.run_until([&] { return p.owner.finished == 1; }));
  CHECK(p.owner.pending_at_finish == 0);
  CHECK(most_pending <= WriteQueue::kHighWaterMark + kChunk);
  CHECK(p.owner.drained >= 1);
  // The end of the stream shows that nothing came after the data.
  p.close_writer();
  REQUIRE(loop.run_until([&] { return p.reader.eof; }));
  CHECK(p.reader.data.size() == data.size());
  CHECK(p.reader.data == data);
  CHECK(p.owner.errors == 0);

  p.close_all();
  REQUIRE(loop.run_until([&] { return p.all_closed(); }));
  loop.close_and_check();
}

TEST_CASE("finish_then reports once everything queued before it is written, and ignores later writes",
          "[net_write_queue_test]") {
  TestLoop loop;
  QueuedPipe p(loop.get());

  SECTION("nothing pending: at once") {
    p.queue.finish_then();
    CHECK(p.owner.finished == 1);
    p.queue.finish_then();
    CHECK(p.owner.finished == 1);
  }
  SECTION("data pending: after the last byte") {
    const std::string data = pattern(200 * KiB, 4);
    REQUIRE(p.queue.write(data.data(), data.size()));
    p.queue.finish_then();
    CHECK(p.owner.finished == 0);
    // Accepted (the queue has not failed) but not sent.
    CHECK(p.queue.write("late", 4));
    p.queue.finish_then();

    p.reader.resume();
    REQUIRE(loop.run_until([&] { return p.owner.finished > 0; }));
    CHECK(p.owner.finished == 1);
    CHECK(p.owner.pending_at_finish == 0);
    p.close_writer();
    REQUIRE(loop.run_until([&] { return p.reader.eof; }));
    CHECK(p.reader.data == data);
  }
  CHECK(p.owner.errors == 0);
  p.close_all();
  REQUIRE(loop.run_until([&] { return p.all_closed(); }));
  loop.close_and_check();
}

TEST_CASE("a write to a peer that closed reports EPIPE to the owner, once, and drops what was queued",
          "[net_write_queue_test]") {
  // The test main ignores SIGPIPE as the server does; otherwise this test
  // would end the process rather than fail.
  struct sigaction current {};
  REQUIRE(sigaction(SIGPIPE, nullptr, &current) == 0);
  REQUIRE(current.sa_handler == SIG_IGN);

  TestLoop loop;
  QueuedPipe p(loop.get());
  const std::string data = pattern(300 * KiB, 5);

  SECTION("closed before the write: uv_try_write fails at once, reported on the next turn") {
    p.reader.close();
    REQUIRE(loop.run_until([&] { return p.reader.closed; }));
    CHECK_FALSE(p.queue.write(data.data(), 100));
    // Not from inside write(): the caller's state is not changed under it.
    CHECK(p.owner.errors == 0);
    REQUIRE(loop.run_until([&] { return p.owner.errors > 0; }));
    CHECK(p.owner.errors == 1);
    CHECK(p.owner.last_error == UV_EPIPE);
  }
  SECTION("closed while data waits: the queued write fails") {
    REQUIRE(p.queue.write(data.data(), data.size()));
    REQUIRE(p.queue.pending() > 0);
    p.reader.close();
    REQUIRE(loop.run_until([&] { return p.owner.errors > 0; }));
    CHECK(p.owner.errors == 1);
    CHECK(p.owner.last_error == UV_EPIPE);
  }
  CHECK(p.queue.failed());
  CHECK(p.queue.pending() == 0);
  CHECK_FALSE(p.queue.write(data.data(), data.size()));
  CHECK(p.queue.pending() == 0);
  // A failed queue never reports that it finished, nor fails twice.
  p.queue.finish_then();
  loop.run_for(100);
  CHECK(p.owner.finished == 0);
  CHECK(p.owner.errors == 1);
  CHECK(p.owner.drained == 0);

  p.close_all();
  REQUIRE(loop.run_until([&] { return p.all_closed(); }));
  loop.close_and_check();
}

TEST_CASE("a failure found inside write() is not reported once the owner has closed the stream",
          "[net_write_queue_test]") {
  TestLoop loop;
  QueuedPipe p(loop.get());
  p.reader.close();
  REQUIRE(loop.run_until([&] { return p.reader.closed; }));
  const std::string data = pattern(100, 7);
  CHECK_FALSE(p.queue.write(data.data(), data.size()));
  // The owner closes its stream before the loop turns (it knows why).
  p.close_writer();
  REQUIRE(loop.run_until([&] { return p.writer_closed; }));
  CHECK(p.queue.failed());
  CHECK(p.owner.errors == 0);

  p.close_all();
  REQUIRE(loop.run_until([&] { return p.all_closed(); }));
  loop.close_and_check();
}

TEST_CASE("closing the stream under a queued write is not reported as an error", "[net_write_queue_test]") {
  TestLoop loop;
  QueuedPipe p(loop.get());
  const std::string data = pattern(300 * KiB, 6);
  REQUIRE(p.queue.write(data.data(), data.size()));
  REQUIRE(p.queue.pending() > 0);

  // The owner closes its stream itself (it knows why); the write in flight
  // ends with UV_ECANCELED, which the queue must not report back.
  p.close_writer();
  REQUIRE(loop.run_until([&] { return p.writer_closed; }));
  CHECK(p.queue.failed());
  CHECK(p.owner.errors == 0);
  CHECK(p.owner.drained == 0);
  CHECK(p.owner.finished == 0);

  p.close_all();
  REQUIRE(loop.run_until([&] { return p.all_closed(); }));
  loop.close_and_check();
}

namespace {

// A SOCK_SEQPACKET pair: one system call, one message. The queue writes on
// `writer`; the test reads whole messages from `peer`.
struct QueuedSocket {
  uv_pipe_t writer{};
  bool writer_closed = true;
  int peer = -1;
  WriteQueue queue;
  RecordingOwner owner;

  explicit QueuedSocket(uv_loop_t* loop) {
    int fds[2];
    REQUIRE(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, fds) == 0);
    peer = fds[1];
    // Room for every message these tests send before reading any.
    int size = 1 << 20;
    setsockopt(fds[0], SOL_SOCKET, SO_SNDBUF, &size, sizeof size);
    setsockopt(peer, SOL_SOCKET, SO_RCVBUF, &size, sizeof size);
    REQUIRE(uv_pipe_init(loop, &writer, 0) == 0);
    writer.data = this;
    writer_closed = false;
    REQUIRE(uv_pipe_open(&writer, fds[0]) == 0);
    owner.queue = &queue;
    queue.attach(as_stream(&writer), &owner);
  }
  std::vector<std::string> read_messages() {
    std::vector<std::string> messages;
    std::string buffer(1 << 20, '\0');
    for (;;) {
      ssize_t n = recv(peer, buffer.data(), buffer.size(), MSG_DONTWAIT);
      if (n < 0) break;
      messages.emplace_back(buffer.data(), static_cast<std::size_t>(n));
    }
    return messages;
  }
  void close_all() {
    io_test::close_fd(peer);
    if (!uv_is_closing(as_handle(&writer))) {
      uv_close(as_handle(&writer), [](uv_handle_t* h) { static_cast<QueuedSocket*>(h->data)->writer_closed = true; });
    }
  }
};

std::string joined(const std::vector<std::string>& pieces) {
  std::string all;
  for (const auto& piece : pieces) all += piece;
  return all;
}

}  // namespace

TEST_CASE("the Cork gathers many writes into one system call", "[net_write_queue_test]") {
  TestLoop loop;
  QueuedSocket s(loop.get());
  const std::string data = pattern(10 * 100, 7);

  SECTION("uncorked: one message per write") {
    for (std::size_t i = 0; i < 10; ++i) REQUIRE(s.queue.write(data.data() + i * 100, 100));
    CHECK(s.queue.pending() == 0);
    const auto messages = s.read_messages();
    CHECK(messages.size() == 10);
    CHECK(joined(messages) == data);
  }
  SECTION("corked: one message for all") {
    {
      WriteQueue::Cork cork(s.queue);
      for (std::size_t i = 0; i < 10; ++i) REQUIRE(s.queue.write(data.data() + i * 100, 100));
      // Nothing reaches the kernel while corked.
      CHECK(s.read_messages().empty());
    }
    CHECK(s.queue.pending() == 0);
    const auto messages = s.read_messages();
    REQUIRE(messages.size() == 1);
    CHECK(messages[0] == data);
  }
  CHECK(s.owner.errors == 0);
  s.close_all();
  REQUIRE(loop.run_until([&] { return s.writer_closed; }));
  loop.close_and_check();
}

TEST_CASE("the Cork holds at most kCorkLimit bytes before they go out", "[net_write_queue_test]") {
  TestLoop loop;
  QueuedSocket s(loop.get());
  constexpr std::size_t kPiece = 1 * KiB;
  const std::string data = pattern(100 * kPiece, 8);
  {
    WriteQueue::Cork cork(s.queue);
    for (std::size_t i = 0; i < 100; ++i) REQUIRE(s.queue.write(data.data() + i * kPiece, kPiece));
  }
  REQUIRE(loop.run_until([&] { return s.queue.pending() == 0; }));
  const auto messages = s.read_messages();
  REQUIRE(messages.size() >= 2);
  // The first system call carried what was gathered up to the limit and the
  // write that would have passed it.
  CHECK(messages[0].size() > WriteQueue::kCorkLimit);
  CHECK(messages[0].size() <= WriteQueue::kCorkLimit + kPiece);
  CHECK(messages.size() < 100);
  CHECK(joined(messages) == data);
  CHECK(s.owner.errors == 0);

  s.close_all();
  REQUIRE(loop.run_until([&] { return s.writer_closed; }));
  loop.close_and_check();
}

// ------------------------------------------------------------ shared blocks

namespace {

SharedBytes shared_block(const std::string& bytes) {
  SharedBytes block;
  block.rewrite() = bytes;
  return block;
}

}  // namespace

TEST_CASE("shared blocks go out in order among the queue's own bytes, referenced rather than copied",
          "[net_write_queue_test]") {
  TestLoop loop;
  QueuedPipe p(loop.get());
  const std::string a = pattern(70 * KiB, 11);
  const std::string c = pattern(3 * KiB, 12);
  const std::string d = pattern(5 * KiB, 13);
  const SharedBytes b = shared_block(pattern(100 * KiB, 14));
  const std::string b_bytes(b.view());

  // The reader is paused: the pipe takes the first 64 KiB of `a`, the rest
  // waits, the block twice among the owned bytes.
  REQUIRE(p.queue.write(a.data(), a.size()));
  REQUIRE(p.queue.write_shared(b));
  REQUIRE(p.queue.write(c.data(), c.size()));
  REQUIRE(p.queue.write_shared(b));
  REQUIRE(p.queue.write(d.data(), d.size()));
  const std::string expected = a + b_bytes + c + b_bytes + d;
  CHECK(p.queue.pending() == expected.size() - 64 * KiB);
  // Counted for this queue as if copied, held as two references.
  CHECK(b.holders() == 3);

  p.reader.resume();
  REQUIRE(loop.run_until([&] { return p.queue.pending() == 0 && p.reader.data.size() == expected.size(); }));
  CHECK(p.reader.data == expected);
  CHECK(b.holders() == 1);
  CHECK(p.owner.errors == 0);

  p.close_all();
  REQUIRE(loop.run_until([&] { return p.all_closed(); }));
  loop.close_and_check();
}

TEST_CASE("what the kernel takes of a shared block is not held; the rest is released when written",
          "[net_write_queue_test]") {
  TestLoop loop;
  QueuedPipe p(loop.get());
  const SharedBytes block = shared_block(pattern(100 * KiB, 15));

  REQUIRE(p.queue.write_shared(block));
  CHECK(p.queue.pending() == block.size() - 64 * KiB);
  CHECK(block.holders() == 2);

  SECTION("a small block the kernel takes whole is never held") {
    p.reader.resume();
    REQUIRE(loop.run_until([&] { return p.queue.pending() == 0 && p.reader.data.size() == block.size(); }));
    CHECK(block.holders() == 1);
    const SharedBytes small = shared_block("a line the pipe has room for\n");
    REQUIRE(p.queue.write_shared(small));
    CHECK(p.queue.pending() == 0);
    CHECK(small.holders() == 1);
    REQUIRE(loop.run_until([&] { return p.reader.data.size() == block.size() + small.size(); }));
    CHECK(p.reader.data == std::string(block.view()) + std::string(small.view()));
  }
  SECTION("two queues share one block until the last is done with it") {
    QueuedPipe other(loop.get());
    REQUIRE(other.queue.write_shared(block));
    CHECK(block.holders() == 3);
    p.reader.resume();
    REQUIRE(loop.run_until([&] { return p.queue.pending() == 0 && p.reader.data.size() == block.size(); }));
    CHECK(block.holders() == 2);
    CHECK(other.queue.pending() == block.size() - 64 * KiB);
    other.reader.resume();
    REQUIRE(loop.run_until([&] { return other.queue.pending() == 0 && other.reader.data.size() == block.size(); }));
    CHECK(block.holders() == 1);
    CHECK(other.reader.data == block.view());
    CHECK(p.reader.data == block.view());
    other.close_all();
    REQUIRE(loop.run_until([&] { return other.all_closed(); }));
  }
  CHECK(p.owner.errors == 0);
  p.close_all();
  REQUIRE(loop.run_until([&] { return p.all_closed(); }));
  loop.close_and_check();
}

TEST_CASE("a queue that fails or is closed mid-write lets go of its shared blocks", "[net_write_queue_test]") {
  TestLoop loop;
  QueuedPipe p(loop.get());
  const SharedBytes block = shared_block(pattern(300 * KiB, 16));
  const std::string own = pattern(10 * KiB, 17);
  REQUIRE(p.queue.write_shared(block));
  REQUIRE(p.queue.write(own.data(), own.size()));
  REQUIRE(p.queue.write_shared(block));
  REQUIRE(block.holders() > 1);

  SECTION("the peer closes: EPIPE") {
    p.reader.close();
    REQUIRE(loop.run_until([&] { return p.owner.errors > 0; }));
    CHECK(p.owner.last_error == UV_EPIPE);
    CHECK(block.holders() == 1);
    // A failed queue takes no more references.
    CHECK_FALSE(p.queue.write_shared(block));
    CHECK(block.holders() == 1);
  }
  SECTION("the owner closes the stream") {
    p.close_writer();
    REQUIRE(loop.run_until([&] { return p.writer_closed; }));
    CHECK(p.owner.errors == 0);
    CHECK(block.holders() == 1);
  }
  CHECK(p.queue.failed());
  CHECK(p.queue.pending() == 0);
  p.close_all();
  REQUIRE(loop.run_until([&] { return p.all_closed(); }));
  loop.close_and_check();
}

TEST_CASE("finish_then waits for the shared blocks queued before it", "[net_write_queue_test]") {
  TestLoop loop;
  QueuedPipe p(loop.get());
  const SharedBytes block = shared_block(pattern(200 * KiB, 18));
  const std::string close_frame = "\x88\x02\x03\xe8";
  REQUIRE(p.queue.write_shared(block));
  REQUIRE(p.queue.write(close_frame.data(), close_frame.size()));
  p.queue.finish_then();
  CHECK(p.owner.finished == 0);
  p.reader.resume();
  REQUIRE(loop.run_until([&] { return p.owner.finished > 0; }));
  CHECK(block.holders() == 1);
  p.close_writer();
  REQUIRE(loop.run_until([&] { return p.reader.eof; }));
  CHECK(p.reader.data == std::string(block.view()) + close_frame);
  p.close_all();
  REQUIRE(loop.run_until([&] { return p.all_closed(); }));
  loop.close_and_check();
}

TEST_CASE("the Cork gathers shared blocks and owned bytes into one system call, in order",
          "[net_write_queue_test]") {
  TestLoop loop;
  QueuedSocket s(loop.get());
  const std::string own = pattern(300, 19);
  const SharedBytes block = shared_block(pattern(500, 20));
  {
    WriteQueue::Cork cork(s.queue);
    REQUIRE(s.queue.write(own.data(), 100));
    REQUIRE(s.queue.write_shared(block));
    REQUIRE(s.queue.write(own.data() + 100, 200));
    CHECK(block.holders() == 2);
    CHECK(s.read_messages().empty());
  }
  CHECK(s.queue.pending() == 0);
  CHECK(block.holders() == 1);
  const auto messages = s.read_messages();
  REQUIRE(messages.size() == 1);
  CHECK(messages[0] == own.substr(0, 100) + std::string(block.view()) + own.substr(100));
  CHECK(s.owner.errors == 0);
  s.close_all();
  REQUIRE(loop.run_until([&] { return s.writer_closed; }));
  loop.close_and_check();
}

TEST_CASE("a corked batch the kernel takes in part goes on from inside a shared block", "[net_write_queue_test]") {
  TestLoop loop;
  QueuedPipe p(loop.get());
  // The pipe keeps 64 KiB; leave it room for part of what is corked.
  const std::string first = pattern(40 * KiB, 21);
  REQUIRE(p.queue.write(first.data(), first.size()));
  REQUIRE(p.queue.pending() == 0);
  const std::string own = pattern(30 * KiB, 22);
  const SharedBytes block = shared_block(pattern(20 * KiB, 23));
  {
    WriteQueue::Cork cork(p.queue);
    REQUIRE(p.queue.write(own.data(), 10 * KiB));
    REQUIRE(p.queue.write_shared(block));
    REQUIRE(p.queue.write(own.data() + 10 * KiB, 20 * KiB));
  }
  // Some of the batch went at once, the rest is queued behind it.
  CHECK(p.queue.pending() > 0);
  CHECK(p.queue.pending() < 50 * KiB);
  p.reader.resume();
  const std::string expected = first + own.substr(0, 10 * KiB) + std::string(block.view()) + own.substr(10 * KiB);
  REQUIRE(loop.run_until([&] { return p.queue.pending() == 0 && p.reader.data.size() == expected.size(); }));
  CHECK(p.reader.data == expected);
  CHECK(block.holders() == 1);
  CHECK(p.owner.errors == 0);
  p.close_all();
  REQUIRE(loop.run_until([&] { return p.all_closed(); }));
  loop.close_and_check();
}
