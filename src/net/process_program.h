// The program of one WebSocket connection: one child of its own (a
// ChildSession, the only owner of its pipes). Messages go to its stdin (a
// text message as one line); its stdout is split into lines (LineSplitter),
// or with --binary taken a read at a time, and offered to the session;
// stderr is logged by the ChildSession and, with --passstderr, offered too.
// Its exit is logged; the fork slot is given back once its pipes are closed
// and its process group is gone (a grandchild may outlive the child).
//
// Teardown: release() closes the pipes once the child is reaped; the owner
// hears on_part_closed from the last close callback.
#pragma once
#include <uv.h>

#include <cstdint>
#include <string>

#include "net/child_session.h"
#include "net/part_owner.h"
#include "net/program.h"
#include "net/server_context.h"
#include "proc/spawn.h"
#include "wsbridge/bridge/framing_error.h"
#include "wsbridge/bridge/length_prefix_splitter.h"
#include "wsbridge/bridge/line_splitter.h"
#include "wsbridge/bridge/nul_splitter.h"

namespace wsbridge::net {

class ProcessProgram final : public Program, private ChildSession::Owner {
 public:
  ProcessProgram(ServerContext& context, PartOwner& owner, const std::string& log_fields) noexcept;
  ProcessProgram(const ProcessProgram&) = delete;
  ProcessProgram& operator=(const ProcessProgram&) = delete;

  // Takes the spawned child (see ChildSession::start). Once.
  void start(uv_loop_t* loop, const proc::SpawnedChild& spawned, std::uint64_t requested_at_ns) noexcept;
  // Server shutdown deadline: SIGKILL the child's group and reap it.
  void kill_now() noexcept { child_.kill_now(); }

  // Program
  void start_output(Listener& listener) noexcept override;
  void take_input(InputBatch& batch) noexcept override;
  bool deliver(bool binary, std::string_view payload) noexcept override;
  // deliver() after `tag` and a tab (--room-tagged).
  bool deliver_tagged(std::string_view tag, bool binary, std::string_view payload) noexcept;
  bool input_backlogged() const noexcept override { return child_.stdin_full(); }
  void resume_output() noexcept override { child_.resume_output(); }
  void stop() noexcept override { child_.stop(); }
  void release() noexcept override { child_.close_after_exit(); }

 private:
  void give_tail() noexcept;
  // --framing=nul or length: each complete message of `input` to the
  // listener; None, or the error that ends the output.
  bridge::FramingError give_framed_messages(std::string_view input);
  // Malformed framed output: what was framed before it has been given; the
  // listener ends the connection.
  void report_framing_error(bridge::FramingError error) noexcept;

  // ChildSession::Owner
  void on_child_stdout(char* data, std::size_t size) noexcept override;
  void on_child_stdout_end(int uv_status) noexcept override;
  void on_child_stderr(StderrLines& lines) override;
  void on_child_stdin_drained() noexcept override;
  void on_child_stdin_failed(int uv_error) noexcept override;
  void on_child_exited(int wait_status) noexcept override;
  void on_child_session_closed() noexcept override;

  ServerContext& context_;
  PartOwner& owner_;
  const std::string& log_fields_;
  Listener* listener_ = nullptr;
  bridge::LineSplitter stdout_lines_;
  // Only the one --framing names is used; an unused one holds no memory.
  bridge::NulSplitter stdout_nul_messages_;
  bridge::LengthPrefixSplitter stdout_length_messages_;
  bool framing_failed_ = false;  // malformed framed output was reported
  ChildSession child_;
};

}  // namespace wsbridge::net
