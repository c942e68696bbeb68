// WebSocketSession on a real loop, over a ClientStream that accepted a real
// loopback TCP connection, with a fake Program: a client's masked frame
// reaches the program as a message, a program's line reaches the client as
// a text frame after the handshake response, a close is echoed and the
// stream closes after it, the program is stopped and released only once
// it has ended, and a backlogged program pauses reading the client until it
// drains. Every handle is closed at the end (uv_loop_close() == 0).
#include <netinet/in.h>

#include <memory>
#include <string>
#include <vector>

#include "io_test_support.h"
#include "net/client_stream.h"
#include "net/part_owner.h"
#include "net/program.h"
#include "net/server_context.h"
#include "net/websocket_session.h"
#include "wsbridge/cli/config.h"

using io_test::TestLoop;
using wsbridge::net::ClientStream;
using wsbridge::net::Program;
using wsbridge::net::ServerContext;
using wsbridge::net::WebSocketSession;

namespace {

constexpr std::string_view kHandshakeResponse = "HTTP/1.1 101 Switching Protocols\r\n\r\n";

struct FakeProgram final : Program {
  Listener* listener = nullptr;
  std::vector<std::string> messages;
  bool backlogged = false;
  int batches = 0, stops = 0, releases = 0, resumes = 0;

  void start_output(Listener& l) noexcept override { listener = &l; }
  void take_input(InputBatch& batch) noexcept override {
    ++batches;
    batch.deliver_messages();
  }
  bool deliver(bool /*binary*/, std::string_view payload) noexcept override {
    messages.emplace_back(payload);
    return true;
  }
  bool input_backlogged() const noexcept override { return backlogged; }
  void resume_output() noexcept override { ++resumes; }
  void stop() noexcept override { ++stops; }
  void release() noexcept override { ++releases; }
};

// A client frame as RFC 6455 requires it: masked (with a fixed key).
std::string masked_frame(std::uint8_t first_byte, std::string_view payload) {
  REQUIRE(payload.size() < 126);
  const std::uint8_t key[4] = {0x11, 0x22, 0x33, 0x44};
  std::string frame;
  frame += static_cast<char>(first_byte);
  frame += static_cast<char>(0x80 | payload.size());
  frame.append(reinterpret_cast<const char*>(key), 4);
  for (std::size_t i = 0; i < payload.size(); ++i) frame += static_cast<char>(payload[i] ^ key[i % 4]);
  return frame;
}

// A listener on 127.0.0.1, one client connected to it, and on the server
// side the parts the server would make after an upgrade.
struct Rig final : wsbridge::net::PartOwner {
  wsbridge::cli::Config config;
  std::unique_ptr<ServerContext> context = std::make_unique<ServerContext>();
  std::string log_fields;
  FakeProgram program;
  ClientStream stream{*context, *this, log_fields};
  WebSocketSession session{*context, stream, program, log_fields};
  uv_tcp_t listener{};
  uv_tcp_t client{};
  uv_connect_t connect_request{};
  std::string received;  // what the client read
  bool accepted = false, connected = false, client_eof = false;
  int parts_closed = 0, handles_closed = 0;

  explicit Rig(TestLoop& loop) {
    context->config = &config;
    REQUIRE(uv_tcp_init(loop.get(), &listener) == 0);
    listener.data = this;
    sockaddr_in address{};
    REQUIRE(uv_ip4_addr("127.0.0.1", 0, &address) == 0);
    REQUIRE(uv_tcp_bind(&listener, reinterpret_cast<const sockaddr*>(&address), 0) == 0);
    REQUIRE(uv_listen(io_test::as_stream(&listener), 4, &Rig::on_connection) == 0);
    int length = sizeof address;
    REQUIRE(uv_tcp_getsockname(&listener, reinterpret_cast<sockaddr*>(&address), &length) == 0);
    REQUIRE(uv_tcp_init(loop.get(), &client) == 0);
    client.data = this;
    connect_request.data = this;
    REQUIRE(uv_tcp_connect(&connect_request, &client, reinterpret_cast<const sockaddr*>(&address),
                           &Rig::on_connected) == 0);
    REQUIRE(loop.run_until([&] { return accepted && connected; }));
  }

  void on_part_closed() noexcept override { ++parts_closed; }

  void client_send(const std::string& bytes) {
    uv_buf_t buf = wsbridge::net::make_buf(bytes.data(), bytes.size());
    REQUIRE(uv_try_write(io_test::as_stream(&client), &buf, 1) == static_cast<int>(bytes.size()));
  }
  void close_client_and_listener(TestLoop& loop) {
    auto count = [](uv_handle_t* h) { ++static_cast<Rig*>(h->data)->handles_closed; };
    uv_close(io_test::as_handle(&client), count);
    uv_close(io_test::as_handle(&listener), count);
    REQUIRE(loop.run_until([&] { return handles_closed == 2; }));
  }

  static void on_connection(uv_stream_t* server, int status) {
    auto* self = static_cast<Rig*>(server->data);
    REQUIRE(status == 0);
    REQUIRE(self->stream.accept_from(server, false));
    // As the server does: reading is held until the program exists.
    self->stream.pause_reading(ClientStream::kHeldForProgram);
    self->stream.set_handler(self->session);
    self->session.start(kHandshakeResponse, nullptr, nullptr, 0);
    self->accepted = true;
  }
  static void on_connected(uv_connect_t* request, int status) {
    auto* self = static_cast<Rig*>(request->data);
    REQUIRE(status == 0);
    self->connected = true;
    REQUIRE(uv_read_start(io_test::as_stream(&self->client), io_test::alloc_read_buffer, &Rig::on_client_read) == 0);
  }
  static void on_client_read(uv_stream_t* stream, ssize_t nread, const uv_buf_t* buf) {
    auto* self = static_cast<Rig*>(stream->data);
    if (nread > 0) self->received.append(buf->base, static_cast<std::size_t>(nread));
    if (nread < 0) {
      self->client_eof = true;
      uv_read_stop(stream);
    }
  }
};

}  // namespace

TEST_CASE("messages both ways, then the close handshake ends the stream and the program",
          "[net_websocket_session_test]") {
  TestLoop loop;
  {
    Rig rig(loop);
    rig.client_send(masked_frame(0x81, "hello"));
    REQUIRE(loop.run_until([&] { return rig.program.messages.size() == 1; }));
    CHECK(rig.program.messages[0] == "hello");
    CHECK(rig.program.batches == 1);

    rig.program.listener->on_program_line("world", false);
    CHECK(rig.program.listener->on_program_output_done());
    const std::string expected = std::string(kHandshakeResponse) + "\x81\x05world";
    REQUIRE(loop.run_until([&] { return rig.received.size() >= expected.size(); }));
    CHECK(rig.received == expected);

    // Close 1000 from the client: echoed, then the server closes TCP first.
    rig.client_send(masked_frame(0x88, std::string("\x03\xe8", 2)));
    REQUIRE(loop.run_until([&] { return rig.client_eof && rig.parts_closed == 1; }));
    CHECK(rig.received == expected + "\x88\x02\x03\xe8");
    CHECK(rig.program.stops >= 1);
    // The stream is gone but the program has not ended: nothing released yet.
    CHECK(rig.program.releases == 0);
    rig.program.listener->on_program_exited(0);
    CHECK(rig.program.releases == 1);
    rig.close_client_and_listener(loop);
  }
  loop.close_and_check();
}

TEST_CASE("a backlogged program pauses reading the client until its input drains",
          "[net_websocket_session_test]") {
  TestLoop loop;
  {
    Rig rig(loop);
    rig.program.backlogged = true;
    rig.client_send(masked_frame(0x82, "one"));
    REQUIRE(loop.run_until([&] { return rig.program.messages.size() == 1; }));
    CHECK(rig.stream.reading_paused());
    // Sent while paused: it waits in the kernel, not in the program.
    rig.client_send(masked_frame(0x82, "two"));
    loop.run_for(200);
    CHECK(rig.program.messages.size() == 1);

    rig.program.backlogged = false;
    rig.program.listener->on_program_input_drained();
    CHECK_FALSE(rig.stream.reading_paused());
    REQUIRE(loop.run_until([&] { return rig.program.messages.size() == 2; }));
    CHECK(rig.program.messages[1] == "two");

    // The client leaves without a close frame: the stream closes, the
    // program is stopped, and released once it has ended.
    rig.program.listener->on_program_exited(0);
    CHECK(rig.program.releases == 0);
    auto count = [](uv_handle_t* h) { ++static_cast<Rig*>(h->data)->handles_closed; };
    uv_close(io_test::as_handle(&rig.client), count);
    REQUIRE(loop.run_until([&] { return rig.parts_closed == 1; }));
    CHECK(rig.program.stops >= 1);
    CHECK(rig.program.releases == 1);
    uv_close(io_test::as_handle(&rig.listener), count);
    REQUIRE(loop.run_until([&] { return rig.handles_closed == 2; }));
  }
  loop.close_and_check();
}
