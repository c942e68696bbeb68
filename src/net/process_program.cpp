#include "net/process_program.h"

#include <sys/wait.h>

#include <cstring>
#include <new>

#include "log/logger.h"
#include "net/uv_cast.h"

namespace wsbridge::net {
namespace {

using log::LogLevel;

std::string describe_exit(int wait_status) {
  if (WIFEXITED(wait_status)) return "exited with status " + std::to_string(WEXITSTATUS(wait_status));
  if (WIFSIGNALED(wait_status)) {
    int sig = WTERMSIG(wait_status);
    const char* name = sigabbrev_np(sig);
    return "killed by signal " + std::to_string(sig) + (name ? std::string(" (SIG") + name + ")" : "");
  }
  return "ended with wait status " + std::to_string(wait_status);
}

// The longest framed message the program may write: --maxmessage, or
// unlimited.
std::size_t framed_message_limit(const ServerContext& context) {
  const std::uint64_t limit = context.config->max_message;
  return limit == 0 || limit > SIZE_MAX ? SIZE_MAX : static_cast<std::size_t>(limit);
}

}  // namespace

ProcessProgram::ProcessProgram(ServerContext& context, PartOwner& owner, const std::string& log_fields) noexcept
    : context_(context),
      owner_(owner),
      log_fields_(log_fields),
      stdout_lines_(context.max_line),
      stdout_nul_messages_(framed_message_limit(context)),
      stdout_length_messages_(framed_message_limit(context)),
      child_(context, *this, log_fields) {}

void ProcessProgram::start(uv_loop_t* loop, const proc::SpawnedChild& spawned,
                           std::uint64_t requested_at_ns) noexcept {
  child_.start(loop, spawned, requested_at_ns);
}

void ProcessProgram::start_output(Listener& listener) noexcept {
  listener_ = &listener;
  child_.start_reading();
}

// ------------------------------------------------- client → child (stdin)

void ProcessProgram::take_input(InputBatch& batch) noexcept {
  // Every message of one client read reaches the child in one write.
  WriteQueue::Cork cork = child_.cork_stdin();
  batch.deliver_messages();
}

bool ProcessProgram::deliver(bool binary, std::string_view payload) noexcept {
  if (!child_.accepts_stdin()) return false;  // the child no longer reads
  switch (context_.config->framing) {
    case cli::Framing::Line: {
      // websocketd's mapping: a text message is a line (payload + "\n"); a
      // binary message is written as it is, in both modes.
      static char newline = '\n';
      uv_buf_t bufs[2] = {make_buf(payload.data(), payload.size()), make_buf(&newline, 1)};
      child_.write_stdin(bufs, binary ? 1 : 2);
      return true;
    }
    case cli::Framing::Nul: {
      static char nul = '\0';
      uv_buf_t bufs[2] = {make_buf(payload.data(), payload.size()), make_buf(&nul, 1)};
      child_.write_stdin(bufs, 2);
      return true;
    }
    case cli::Framing::Length: {
      // Start-up keeps --maxmessage under 4 GiB with this framing, so every
      // message has a prefix.
      const auto length = static_cast<std::uint32_t>(payload.size());
      char prefix[4] = {static_cast<char>(length >> 24), static_cast<char>(length >> 16),
                        static_cast<char>(length >> 8), static_cast<char>(length)};
      uv_buf_t bufs[2] = {make_buf(prefix, sizeof prefix), make_buf(payload.data(), payload.size())};
      child_.write_stdin(bufs, 2);
      return true;
    }
  }
  return false;
}

bool ProcessProgram::deliver_tagged(std::string_view tag, bool binary, std::string_view payload) noexcept {
  if (!child_.accepts_stdin()) return false;
  // One write of all four parts: nothing another client sends can come
  // between the tag and its message.
  static char tab = '\t';
  static char newline = '\n';
  uv_buf_t bufs[4] = {make_buf(tag.data(), tag.size()), make_buf(&tab, 1), make_buf(payload.data(), payload.size()),
                      make_buf(&newline, 1)};
  child_.write_stdin(bufs, binary ? 3 : 4);
  return true;
}

void ProcessProgram::on_child_stdin_drained() noexcept { listener_->on_program_input_drained(); }

void ProcessProgram::on_child_stdin_failed(int uv_error) noexcept {
  // The child closed its stdin or exited: later messages have nowhere to go.
  log::write(LogLevel::Debug, "process", log_fields_, std::string("Child's stdin closed: ") + uv_strerror(uv_error));
  listener_->on_program_input_drained();
}

// ------------------------------------------------- child → client (stdout)

void ProcessProgram::on_child_stdout(char* data, std::size_t size) noexcept {
  try {
    if (context_.config->framing != cli::Framing::Line) {
      // After an error the output is only drained, never paused, while the
      // connection closes.
      if (framing_failed_) return;
      const bridge::FramingError error = give_framed_messages({data, size});
      if (error != bridge::FramingError::None) {
        report_framing_error(error);
        return;
      }
    } else if (context_.config->binary) {
      // Binary mode: each read is one binary message (websocketd's boundaries).
      listener_->on_program_chunk({data, size});
    } else {
      std::string_view input(data, size);
      while (auto line = stdout_lines_.next_line(input)) listener_->on_program_line(*line, false);
    }
  } catch (const std::bad_alloc&) {
    listener_->on_program_out_of_memory();
    return;
  }
  // The client reads slower than the child writes: stop reading stdout so
  // the pipe fills and the child blocks, instead of buffering here.
  if (!listener_->on_program_output_done()) child_.pause_stdout();
}

bridge::FramingError ProcessProgram::give_framed_messages(std::string_view input) {
  if (context_.config->framing == cli::Framing::Length) {
    // Length-prefixed messages are binary: any byte may be in them.
    while (auto message = stdout_length_messages_.next_message(input)) listener_->on_program_chunk(*message);
    return stdout_length_messages_.error();
  }
  while (auto message = stdout_nul_messages_.next_message(input)) {
    if (context_.config->binary) {
      listener_->on_program_chunk(*message);
    } else {
      listener_->on_program_line(*message, false);
    }
  }
  return stdout_nul_messages_.error();
}

void ProcessProgram::report_framing_error(bridge::FramingError error) noexcept {
  framing_failed_ = true;
  log::write(LogLevel::Error, "process", log_fields_,
             std::string("Malformed output from process (--framing): ") + bridge::describe(error));
  // The messages framed before the error go out first.
  (void)listener_->on_program_output_done();
  listener_->on_program_output_malformed(bridge::describe(error));
}

void ProcessProgram::give_tail() noexcept {
  if (context_.config->framing != cli::Framing::Line) {
    // The output ended in the middle of a message: an error (once).
    if (framing_failed_) return;
    const bridge::FramingError error = context_.config->framing == cli::Framing::Length
                                           ? stdout_length_messages_.finish()
                                           : stdout_nul_messages_.finish();
    if (error != bridge::FramingError::None) report_framing_error(error);
    return;
  }
  if (context_.config->binary) return;
  try {
    // websocketd drops an unterminated last line; we deliver it.
    if (auto tail = stdout_lines_.finish()) {
      listener_->on_program_line(*tail, false);
      (void)listener_->on_program_output_done();
    }
  } catch (const std::bad_alloc&) {
    // The tail is lost; the close follows all the same.
  }
}

void ProcessProgram::on_child_stdout_end(int uv_status) noexcept {
  // The child will write no more: deliver the rest, then the session ends.
  if (uv_status != UV_EOF) {
    log::write(LogLevel::Error, "process", log_fields_,
               std::string("Unexpected error while reading STDOUT from process: ") + uv_strerror(uv_status));
  }
  give_tail();
  listener_->on_program_output_end(uv_status);
}

void ProcessProgram::on_child_stderr(StderrLines& lines) {
  // ChildSession logs each stderr line, as websocketd does. Without
  // --passstderr that is all: reading never stops, so a chatty child cannot
  // block on a full pipe. With --passstderr the lines are sent too, and
  // then stderr waits, like stdout, while the client is behind.
  if (!context_.config->passstderr) return;
  while (auto line = lines.next()) listener_->on_program_line(*line, true);
  if (!listener_->on_program_output_done()) child_.pause_stderr();
}

// --------------------------------------------------------------- teardown

void ProcessProgram::on_child_exited(int wait_status) noexcept {
  log::write(LogLevel::Info, "process", log_fields_, "Process " + describe_exit(wait_status));
  if (listener_ != nullptr) listener_->on_program_exited(wait_status);
}

void ProcessProgram::on_child_session_closed() noexcept {
  // The fork slot is given back only now, not at the child's exit: a
  // grandchild holding stdout keeps the connection, its pipes and its
  // process group alive, and --maxforks counts those (as websocketd does).
  // The session is closed once the connection is gone, the pipes are
  // closed and the group is empty (or was SIGKILLed).
  context_.release_fork_slot();
  owner_.on_part_closed();
}

}  // namespace wsbridge::net
