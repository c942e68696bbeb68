#include "net/websocket_session.h"

#include <new>

#include "log/logger.h"
#include "net/uv_cast.h"
#include "wsbridge/bridge/exit_close.h"
#include "wsbridge/bridge/tagged_output.h"

namespace wsbridge::net {
namespace {

using log::LogLevel;
// Slots of the per-direction metrics.
constexpr auto kToProgram = static_cast<std::size_t>(metrics::Direction::ToProgram);
constexpr auto kToClient = static_cast<std::size_t>(metrics::Direction::ToClient);
// Frames of one read of output that grew the loop's scratch past this are
// not kept there once sent.
constexpr std::size_t kKeepScratchCapacity = 1024 * 1024;

}  // namespace

WebSocketSession::WebSocketSession(ServerContext& context, ClientStream& stream, Program& program,
                                   const std::string& log_fields) noexcept
    : context_(context), stream_(stream), program_(program), log_fields_(log_fields) {}

void WebSocketSession::start(std::string_view handshake_response, const ws::DeflateParameters* deflate,
                             char* early_bytes, std::size_t early_size) noexcept {
  const cli::Config& config = *context_.config;
  stream_.write(handshake_response.data(), handshake_response.size());
  log::write(LogLevel::Access, "session", log_fields_, "CONNECT");
  program_.start_output(*this);
  reader_ = std::unique_ptr<ws::MessageReader>(new (std::nothrow) ws::MessageReader(config.max_message));
  try {
    if (!reader_) throw std::bad_alloc();
    if (deflate != nullptr) use_deflate(*deflate);
  } catch (const std::bad_alloc&) {
    // Reading stays held (since the spawn): nothing can reach a missing
    // reader. Close, and let the program go.
    fail(ws::close_code::kInternalError, "out of memory");
    return;
  }
  stream_.resume_reading(ClientStream::kHeldForProgram);
  if (config.pingms != 0) stream_.start_timer(config.pingms, config.pingms);
  // Bytes that came right after the request head are the first frames.
  if (early_size > 0) on_stream_data(early_bytes, early_size);
}

void WebSocketSession::use_deflate(const ws::DeflateParameters& agreed) {
  reader_->inflate_compressed_messages(agreed, context_.inflate_states);
  // With server_no_context_takeover every message starts from an empty
  // window, so the loop's one compressor serves every connection; otherwise
  // this connection keeps its own window (and its memory) between messages.
  deflater_ = context_.deflaters != nullptr ? context_.deflaters->for_agreement(agreed) : nullptr;
  if (deflater_ == nullptr) {
    own_deflater_ = std::make_unique<ws::MessageDeflater>(
        ws::MessageDeflater::for_server(agreed, ws::IdleMemory::Release));
    deflater_ = own_deflater_.get();
  }
}

void WebSocketSession::shut_down_for_server() noexcept {
  send_close(ws::close_code::kGoingAway, "server shutting down");
  stream_.finish_then_close();
  program_.stop();
}

void WebSocketSession::fail(std::uint16_t code, std::string_view reason) noexcept {
  send_close(code, reason);
  stream_.finish_then_close();
  program_.stop();
}

// ------------------------------------------------ client → program (input)

void WebSocketSession::on_stream_data(char* data, std::size_t size) noexcept {
  silent_ping_intervals_ = 0;  // any byte from the peer shows it is alive
  pending_bytes_ = reinterpret_cast<std::uint8_t*>(data);
  pending_size_ = size;
  program_.take_input(*this);
}

void WebSocketSession::deliver_messages() noexcept {
  // Drain events until NeedMore even when no bytes are left: the reader frees
  // a large message's buffer only on the call after it handed the message
  // out, and an idle connection must not keep it.
  while (!stream_.closed()) {
    std::size_t consumed = 0;
    ws::MessageReader::Event event;
    try {
      event = reader_->next(pending_bytes_, pending_size_, consumed);
    } catch (const std::bad_alloc&) {
      fail(ws::close_code::kInternalError, "out of memory");
      return;
    }
    pending_bytes_ += consumed;
    pending_size_ -= consumed;
    if (!handle_event(event)) return;
  }
}

bool WebSocketSession::handle_event(const ws::MessageReader::Event& event) noexcept {
  switch (event.kind) {
    case ws::MessageReader::EventKind::NeedMore:
      return false;
    case ws::MessageReader::EventKind::Message:
      if (!close_sent_ && program_.deliver(event.binary, event.payload)) {
        ++context_.metrics.messages[kToProgram];
        context_.metrics.bytes[kToProgram] += event.payload.size();
        // The program reads slower than the client sends: stop reading the
        // socket so TCP flow control pushes back on the client.
        if (program_.input_backlogged()) stream_.pause_reading(ClientStream::kProgramInputFull);
      }
      return true;
    case ws::MessageReader::EventKind::Ping:
      if (!close_sent_) {
        send_frame(ws::Opcode::Pong, event.payload);
        // A client that pings but never reads its pongs must not grow our
        // queue: stop reading it until it catches up.
        if (stream_.backlogged()) stream_.pause_reading(ClientStream::kOutputFull);
      }
      return true;
    case ws::MessageReader::EventKind::Pong:
      return true;
    case ws::MessageReader::EventKind::Close:
      close_received_ = true;
      ++context_.metrics.close_codes_received[metrics::close_code_slot(event.close_code)];
      log::write(LogLevel::Debug, "websocket", log_fields_,
                 "Client closed with code " + std::to_string(event.close_code));
      // Echo the client's code (RFC 6455 §5.5.1); a close without a code is
      // answered without one. The server closes TCP first (§7.1.1) once the
      // close is written.
      fail(event.close_code, {});
      return false;
    case ws::MessageReader::EventKind::Error:
      log::write(LogLevel::Access, "websocket", log_fields_, std::string("Protocol error: ") + ws::describe(event.error));
      close_received_ = true;  // nothing more will be read
      fail(ws::close_code_for(event.error), ws::describe(event.error));
      return false;
  }
  return false;
}

void WebSocketSession::on_program_input_drained() noexcept {
  stream_.resume_reading(ClientStream::kProgramInputFull);
}

void WebSocketSession::on_stream_input_ended(int uv_status) noexcept {
  // EOF or error: the client is gone (or half-closed: nothing more will come).
  if (!close_received_) {
    log::write(LogLevel::Debug, "websocket", log_fields_,
               std::string("Client went away without a close frame: ") + uv_strerror(uv_status));
  }
  stream_.close();
}

// ------------------------------------------------ program → client (output)

void WebSocketSession::send_frame(ws::Opcode opcode, std::string_view payload, bool compressed) noexcept {
  std::uint8_t header[ws::kMaxServerFrameHeaderSize];
  std::size_t header_size = ws::encode_frame_header(header, opcode, true, payload.size(), compressed);
  uv_buf_t bufs[2] = {make_buf(reinterpret_cast<char*>(header), header_size),
                      make_buf(payload.data(), payload.size())};
  stream_.write(bufs, 2);
}

std::string_view WebSocketSession::maybe_compress(std::string_view payload, bool& compressed) {
  compressed = false;
  if (deflater_ == nullptr || payload.size() < context_.deflate.threshold) return payload;
  std::string& out = context_.deflate_scratch;
  out.clear();
  if (!deflater_->compress(payload, out)) throw std::bad_alloc();
  compressed = true;
  return out;
}

bool WebSocketSession::send_message(ws::Opcode opcode, std::string_view payload) noexcept {
  try {
    bool compressed = false;
    const std::string_view wire = maybe_compress(payload, compressed);
    send_frame(opcode, wire, compressed);
  } catch (const std::bad_alloc&) {
    return false;
  }
  return true;
}

void WebSocketSession::append_message(std::string& out, ws::Opcode opcode, std::string_view payload) {
  bool compressed = false;
  const std::string_view wire = maybe_compress(payload, compressed);
  std::uint8_t header[ws::kMaxServerFrameHeaderSize];
  const std::size_t header_size = ws::encode_frame_header(header, opcode, true, wire.size(), compressed);
  out.append(reinterpret_cast<char*>(header), header_size);
  out.append(wire);
}

void WebSocketSession::send_close(std::uint16_t code, std::string_view reason) noexcept {
  if (!sending()) return;
  close_sent_ = true;
  ++context_.metrics.close_codes_sent[metrics::close_code_slot(code)];
  try {
    // 1005 means "the peer's close had no code": answered with none.
    std::string payload = code == ws::close_code::kNoStatus ? std::string() : ws::encode_close_payload(code, reason);
    send_frame(ws::Opcode::Close, payload);
  } catch (const std::bad_alloc&) {
    // No close frame then: the stream still closes after its timeout.
  }
  // Wait a bounded time for the client's close frame.
  stream_.start_timer(kCloseHandshakeTimeoutMs);
}

void WebSocketSession::count_message_out(std::size_t size) noexcept {
  ++context_.metrics.messages[kToClient];
  context_.metrics.bytes[kToClient] += size;
}

void WebSocketSession::on_program_line(std::string_view line, bool from_stderr) noexcept {
  if (!sending() || output_failed_) return;  // nowhere to send it: drain and drop
  // All the lines of one read go out in one write (on_program_output_done).
  std::string& out = context_.frame_scratch;
  try {
    // --passstderr: both streams go out as JSON, escaped (and made valid UTF-8) there.
    line = bridge::output_message_text(line, from_stderr, context_.config->passstderr, context_.utf8_scratch);
    append_message(out, ws::Opcode::Text, line);
  } catch (const std::bad_alloc&) {
    output_failed_ = true;
    return;
  }
  count_message_out(line.size());
}

void WebSocketSession::on_program_chunk(std::string_view chunk) noexcept {
  if (!sending()) return;
  if (!send_message(ws::Opcode::Binary, chunk)) {
    on_program_out_of_memory();
    return;
  }
  count_message_out(chunk.size());
}

bool WebSocketSession::on_program_output_done() noexcept {
  std::string& out = context_.frame_scratch;
  if (output_failed_) {
    output_failed_ = false;
    on_program_out_of_memory();
    return true;
  }
  // Closing: the program's output is drained and dropped, never paused, so
  // that it is not left blocked on a full pipe while it is being ended.
  if (!sending()) return true;
  if (!out.empty()) {
    stream_.write(out.data(), out.size());
    out.clear();
    if (out.capacity() > kKeepScratchCapacity) std::string().swap(out);
    std::string& compressed = context_.deflate_scratch;
    if (compressed.capacity() > kKeepScratchCapacity) std::string().swap(compressed);
  }
  // The client reads slower than the program writes: the program stops
  // reading its output until the stream drains.
  return !stream_.backlogged();
}

bool WebSocketSession::on_program_frames(const SharedBytes& frames, std::size_t messages,
                                         std::size_t payload_bytes) noexcept {
  // Closing: dropped, never waited for (see on_program_output_done).
  if (!sending()) return true;
  // As they are, past the deflate stage: a room's messages go uncompressed
  // (RSV1 clear), which permessage-deflate allows at any time, so one
  // encoding serves every member whatever each negotiated.
  stream_.write_shared(frames);
  context_.metrics.messages[kToClient] += messages;
  context_.metrics.bytes[kToClient] += payload_bytes;
  return !stream_.backlogged();
}

void WebSocketSession::on_program_closes_client(std::uint16_t code, std::string_view reason) noexcept {
  log::write(LogLevel::Access, "websocket", log_fields_, std::string("Closing: ") + std::string(reason));
  fail(code, reason);
}

void WebSocketSession::on_program_out_of_memory() noexcept {
  context_.frame_scratch.clear();
  send_close(ws::close_code::kInternalError, "out of memory");
  program_.stop();
}

void WebSocketSession::on_program_output_malformed(std::string_view reason) noexcept {
  // Logged by the program's side; the client hears why in the close frame.
  send_close(ws::close_code::kInternalError, reason);
  program_.stop();
}

void WebSocketSession::on_stream_drained() noexcept { program_.resume_output(); }

void WebSocketSession::on_program_output_end(int /*uv_status*/) noexcept {
  // The program will write no more (the rest of a line was sent). The
  // close frame waits for its exit status; a program that closed its output
  // but runs on is ended by the stop sequence, so the wait is bounded.
  output_ended_ = true;
  program_.stop();
  close_for_program_end();
  advance_teardown();
}

void WebSocketSession::close_for_program_end() noexcept {
  // Both are needed: the exit can be seen before the last output is read,
  // and the output can end (closed by the program) before the exit.
  if (!output_ended_ || !program_exited_) return;
  const auto mapping = context_.config->exit_status_close_codes ? bridge::ExitCodeMapping::Private
                                                                : bridge::ExitCodeMapping::Standard;
  const bridge::ExitClose close = bridge::close_for_exit(exit_status_, mapping);
  send_close(close.code, close.reason);
}

// ------------------------------------------------------ pings and timeouts

void WebSocketSession::on_stream_timer() noexcept {
  if (!close_sent_ && context_.config->pingms != 0) {
    on_ping_tick();
    return;
  }
  // The close handshake did not finish in time.
  stream_.close();
}

void WebSocketSession::on_ping_tick() noexcept {
  // --pingms: a ping every interval; a peer that has sent nothing at all
  // (no pong, no data) for two intervals is gone, as websocketd's main
  // branch decides. Proxies with read timeouts see traffic meanwhile.
  // While reading is paused for backpressure the peer's pongs wait unread
  // in the kernel: silence then says nothing about the peer.
  if (stream_.reading_paused()) silent_ping_intervals_ = 0;
  if (++silent_ping_intervals_ > 2) {
    log::write(LogLevel::Access, "websocket", log_fields_, "No answer to pings: dropping the connection");
    stream_.close();
    return;
  }
  send_frame(ws::Opcode::Ping, "wsbridge");
}

// --------------------------------------------------------------- teardown

void WebSocketSession::on_stream_closed() noexcept {
  program_.stop();
  advance_teardown();
}

void WebSocketSession::on_program_exited(int wait_status) noexcept {
  program_exited_ = true;
  exit_status_ = wait_status;
  close_for_program_end();
  advance_teardown();
}

void WebSocketSession::advance_teardown() noexcept {
  // The client is gone and the program has ended: nothing is left to relay.
  if (released_ || !stream_.closed() || !program_exited_) return;
  released_ = true;
  program_.release();
  log::write(LogLevel::Access, "session", log_fields_, "DISCONNECT");
}

}  // namespace wsbridge::net
