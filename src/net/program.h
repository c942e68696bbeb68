// What a WebSocketSession talks to: the program behind the endpoint. The
// session never touches a pipe; it delivers messages, asks whether input is
// backlogged, and hears of output, drained input and the program's end
// through Listener. ProcessProgram (one child per connection) implements it,
// and so does RoomMember (a session's place in a Room, one child shared by
// many sessions).
#pragma once
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "net/shared_bytes.h"

namespace wsbridge::net {

class Program {
 public:
  class Listener {
   public:
    // One line of output (from stderr with --passstderr).
    virtual void on_program_line(std::string_view line, bool from_stderr) noexcept = 0;
    // --binary: one read of output is one message.
    virtual void on_program_chunk(std::string_view chunk) noexcept = 0;
    // Everything of one read was given: send it. False while the client is
    // behind: the program stops reading that output until resume_output().
    [[nodiscard]] virtual bool on_program_output_done() noexcept = 0;
    // The program's output ended (UV_EOF, or the read error); the rest of
    // a line was given first.
    virtual void on_program_output_end(int uv_status) noexcept = 0;
    // Output could not be buffered: what was given of this read is lost.
    virtual void on_program_out_of_memory() noexcept = 0;
    // --framing=nul or length: the output broke its framing (`reason`); every
    // message before it was given and sent. The connection ends (1011).
    virtual void on_program_output_malformed(std::string_view reason) noexcept = 0;
    // Input has room again after input_backlogged(), or it can take no more
    // at all (later messages are dropped): read the client again.
    virtual void on_program_input_drained() noexcept = 0;
    // The program has ended (wait_status as from waitpid).
    virtual void on_program_exited(int wait_status) noexcept = 0;

    // A program shared by many sessions (a Room) encodes each output
    // message once: `frames` are whole WebSocket frames (`messages` of them,
    // `payload_bytes` of payload), to be written as they are, shared with
    // the other sessions (keep a reference, not a copy). False while the
    // client is behind, as on_program_output_done.
    virtual bool on_program_frames(const SharedBytes& frames, std::size_t messages,
                                   std::size_t payload_bytes) noexcept = 0;
    // Bytes written for this client and not yet taken by its socket.
    virtual std::size_t program_output_queued() const noexcept = 0;
    // The program gives up on this client: close it with `code`.
    virtual void on_program_closes_client(std::uint16_t code, std::string_view reason) noexcept = 0;

   protected:
    ~Listener() = default;
  };

  // The messages of one client read, delivered together (one write to a
  // child's stdin).
  class InputBatch {
   public:
    virtual void deliver_messages() noexcept = 0;

   protected:
    ~InputBatch() = default;
  };

  // Reading output starts here; output goes to `listener` from now on.
  virtual void start_output(Listener& listener) noexcept = 0;
  // Runs batch.deliver_messages(), whose deliver() calls reach the program
  // together.
  virtual void take_input(InputBatch& batch) noexcept = 0;
  // One message; false when the program no longer takes input (dropped).
  virtual bool deliver(bool binary, std::string_view payload) noexcept = 0;
  // Above the input's high-water mark: stop reading the client until
  // on_program_input_drained.
  virtual bool input_backlogged() const noexcept = 0;
  // The client caught up: read output that on_program_output_done paused.
  virtual void resume_output() noexcept = 0;
  // Ends the program (a request; on_program_exited follows). Idempotent.
  virtual void stop() noexcept = 0;
  // The session is done with the program: once it has ended, release what
  // served it. Idempotent.
  virtual void release() noexcept = 0;

 protected:
  ~Program() = default;
};

}  // namespace wsbridge::net
