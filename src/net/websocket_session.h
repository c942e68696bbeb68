// The WebSocket protocol of one upgraded connection, between a ClientStream
// and a Program: the MessageReader (frames in, unmasked and reassembled),
// frame encoding, pings (--pingms), the close handshake and its timeout,
// and the message, byte and close-code metrics. Two independent directions,
// each with its own backpressure:
//   stream → MessageReader → Program::deliver   (reading paused while the
//                                                program's input is full)
//   Program's lines → frames → stream            (the program's output paused
//                                                while the stream is full)
// It owns no handle: the stream's timer is its timer while it handles the
// stream. When both the stream is closed and the program has ended, it
// releases the program and logs DISCONNECT.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "net/client_stream.h"
#include "net/program.h"
#include "net/server_context.h"
#include "wsbridge/ws/deflate_parameters.h"
#include "wsbridge/ws/frame_encoder.h"
#include "wsbridge/ws/message_deflater.h"
#include "wsbridge/ws/message_reader.h"

namespace wsbridge::net {

class WebSocketSession final : public ClientStream::Handler,
                               private Program::Listener,
                               private Program::InputBatch {
 public:
  WebSocketSession(ServerContext& context, ClientStream& stream, Program& program,
                   const std::string& log_fields) noexcept;
  WebSocketSession(const WebSocketSession&) = delete;
  WebSocketSession& operator=(const WebSocketSession&) = delete;

  // Sends the handshake's response (101), then relays. `early_bytes` came
  // right after the request head: the first frames. The stream's reading
  // must be held (ClientStream::kHeldForProgram); the session resumes it.
  // `deflate`: the permessage-deflate agreement (null: none): compressed
  // messages are inflated on the way in, and messages of at least the
  // --deflate-threshold compressed on the way out.
  void start(std::string_view handshake_response, const ws::DeflateParameters* deflate, char* early_bytes,
             std::size_t early_size) noexcept;
  // Server shutdown: close frame 1001, the program ended.
  void shut_down_for_server() noexcept;

  // ClientStream::Handler
  void on_stream_data(char* data, std::size_t size) noexcept override;
  void on_stream_drained() noexcept override;
  void on_stream_input_ended(int uv_status) noexcept override;
  void on_stream_timer() noexcept override;
  void on_stream_closed() noexcept override;

 private:
  void on_ping_tick() noexcept;
  // Sends `code` (1011 "out of memory" and the like), then closes.
  void fail(std::uint16_t code, std::string_view reason) noexcept;
  void send_frame(ws::Opcode opcode, std::string_view payload, bool compressed = false) noexcept;
  // A Text or Binary message, compressed when agreed and long enough. False
  // when out of memory.
  [[nodiscard]] bool send_message(ws::Opcode opcode, std::string_view payload) noexcept;
  // Appends one whole message's frame to `out`, compressed as send_message.
  void append_message(std::string& out, ws::Opcode opcode, std::string_view payload);
  // The payload to send for `payload` and whether it is compressed.
  std::string_view maybe_compress(std::string_view payload, bool& compressed);
  void use_deflate(const ws::DeflateParameters& agreed);
  void send_close(std::uint16_t code, std::string_view reason) noexcept;
  // Once the program's output has ended and the program has exited: the
  // close frame says how it ended (bridge::close_for_exit).
  void close_for_program_end() noexcept;
  // True to go on reading (NeedMore), false once the session is closing.
  bool handle_event(const ws::MessageReader::Event& event) noexcept;
  void count_message_out(std::size_t size) noexcept;
  void advance_teardown() noexcept;
  bool sending() const noexcept { return !close_sent_ && !stream_.closed(); }

  // Program::InputBatch: the frames of the read in pending_bytes_.
  void deliver_messages() noexcept override;
  // Program::Listener
  void on_program_line(std::string_view line, bool from_stderr) noexcept override;
  void on_program_chunk(std::string_view chunk) noexcept override;
  bool on_program_output_done() noexcept override;
  void on_program_output_end(int uv_status) noexcept override;
  void on_program_out_of_memory() noexcept override;
  void on_program_output_malformed(std::string_view reason) noexcept override;
  void on_program_input_drained() noexcept override;
  void on_program_exited(int wait_status) noexcept override;
  bool on_program_frames(const SharedBytes& frames, std::size_t messages, std::size_t payload_bytes) noexcept override;
  std::size_t program_output_queued() const noexcept override { return stream_.queued_bytes(); }
  void on_program_closes_client(std::uint16_t code, std::string_view reason) noexcept override;

  ServerContext& context_;
  ClientStream& stream_;
  Program& program_;
  const std::string& log_fields_;
  std::unique_ptr<ws::MessageReader> reader_;
  // permessage-deflate: the loop's shared compressor, or this connection's
  // own (context takeover); null without compression.
  ws::MessageDeflater* deflater_ = nullptr;
  std::unique_ptr<ws::MessageDeflater> own_deflater_;
  std::uint8_t* pending_bytes_ = nullptr;  // the read being delivered
  std::size_t pending_size_ = 0;
  bool close_sent_ = false;
  bool close_received_ = false;
  bool program_exited_ = false;
  bool output_ended_ = false;
  int exit_status_ = 0;  // the program's wait status, once program_exited_
  bool released_ = false;
  bool output_failed_ = false;  // a line of this read could not be framed
  std::uint8_t silent_ping_intervals_ = 0;  // --pingms intervals with nothing from the peer
};

}  // namespace wsbridge::net
