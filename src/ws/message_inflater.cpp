// Incremental decompression with the size limit enforced inside the loop:
// zlib is never given more output room than the limit has left plus one
// byte, so the byte that proves a message too big is the last one made.
#include "wsbridge/ws/message_inflater.h"

#include <zlib.h>

#include <algorithm>
#include <new>

#include "inflate_state.h"
#include "wsbridge/ws/inflate_state_pool.h"
#include "zlib_memory.h"

namespace wsbridge::ws {
namespace {

// §7.2.2: the receiver appends what the sender's sync flush ended with.
constexpr std::uint8_t kFlushTail[4] = {0x00, 0x00, 0xff, 0xff};
// zlib counts in uInt; larger inputs go in pieces of this size.
constexpr std::size_t kMaxPiece = std::size_t{1} << 30;
// inflate() sets this bit of data_type when it stopped between blocks.
constexpr int kAtBlockBoundary = 128;

}  // namespace

ProtocolError protocol_error_for(InflateStatus status) noexcept {
  switch (status) {
    case InflateStatus::Ok: return ProtocolError::None;
    case InflateStatus::MessageTooBig: return ProtocolError::MessageTooBig;
    case InflateStatus::CorruptData: return ProtocolError::InvalidCompressedData;
    case InflateStatus::OutOfMemory: break;
  }
  return ProtocolError::OutOfMemory;
}

std::uint16_t close_code_for(InflateStatus status) noexcept {
  return close_code_for(protocol_error_for(status));
}

MessageInflater::MessageInflater(int window_bits, bool no_context_takeover, std::uint64_t max_message_size,
                                 IdleMemory idle) noexcept
    : max_message_size_(max_message_size),
      window_bits_(static_cast<std::uint8_t>(std::clamp(window_bits, 8, 15))),
      no_context_takeover_(no_context_takeover),
      idle_(idle) {}

MessageInflater MessageInflater::for_server(const DeflateParameters& agreed, std::uint64_t max_message_size,
                                            IdleMemory idle) noexcept {
  return MessageInflater(agreed.client_max_window_bits, agreed.client_no_context_takeover, max_message_size, idle);
}

MessageInflater::~MessageInflater() = default;
MessageInflater::MessageInflater(MessageInflater&&) noexcept = default;
MessageInflater& MessageInflater::operator=(MessageInflater&&) noexcept = default;

bool MessageInflater::make_state() noexcept {
  if (pool_ != nullptr && no_context_takeover_) {
    state_ = pool_->take(window_bits_);
    if (state_) return true;
  }
  // On the heap so that ZlibMemory, whose address zlib keeps, never moves.
  state_.reset(new (std::nothrow) InflateState);
  if (!state_) return false;
  state_->window_bits = window_bits_;
  state_->memory.attach(state_->stream);
  if (inflateInit2(&state_->stream, -window_bits_) != Z_OK) {
    state_.reset();
    return false;
  }
  return true;
}

InflateStatus MessageInflater::fail(InflateStatus status) noexcept {
  failed_ = status;
  return status;
}

InflateStatus MessageInflater::feed(const std::uint8_t* data, std::size_t size, std::string& out) {
  if (failed_ != InflateStatus::Ok) return failed_;
  if (size == 0) return InflateStatus::Ok;
  message_input_ += size;
  while (size > 0) {
    const std::size_t piece = std::min(size, kMaxPiece);
    const InflateStatus status = inflate_input(data, piece, out);
    if (status != InflateStatus::Ok) return fail(status);
    data += piece;
    size -= piece;
  }
  return InflateStatus::Ok;
}

void MessageInflater::reserve_output(std::string& out, std::size_t needed) const {
  if (out.capacity() >= needed) return;
  // Grow geometrically as std::string would, but never past what the rest
  // of the limit can need, so a message refused as too big never held more
  // than the limit plus one byte, not up to twice that.
  std::size_t target = std::max(needed, out.capacity() * 2);
  if (max_message_size_ != 0) {
    const std::uint64_t most = out.size() + (max_message_size_ - message_size_) + 1;
    target = static_cast<std::size_t>(std::min<std::uint64_t>(target, most));
  }
  // Into a fresh string: libstdc++'s reserve() would round a request under
  // twice the old capacity up to twice it, past the bound just computed.
  std::string grown;
  grown.reserve(std::max(target, needed));
  grown.append(out);
  out.swap(grown);
}

InflateStatus MessageInflater::inflate_input(const std::uint8_t* data, std::size_t size, std::string& out) {
  if (!state_ && !make_state()) return InflateStatus::OutOfMemory;
  z_stream& z = state_->stream;
  z.next_in = const_cast<Bytef*>(data);
  z.avail_in = static_cast<uInt>(size);
  stream_ended_ = false;
  // Output room per step: about what this input inflates to, doubling
  // while it inflates to more, never over a chunk. A small message then
  // costs a small buffer (resize() fills the room with zeros first), and a
  // bomb still gets at most one chunk past the limit.
  std::size_t step = std::clamp<std::size_t>(size * 4, kFirstStep, kChunk);
  for (;;) {
    std::size_t room = step;
    step = std::min(step * 2, kChunk);
    if (max_message_size_ != 0) {
      room = static_cast<std::size_t>(std::min<std::uint64_t>(room, max_message_size_ - message_size_ + 1));
    }
    const std::size_t before = out.size();
    reserve_output(out, before + room);
    out.resize(before + room);
    z.next_out = reinterpret_cast<Bytef*>(out.data() + before);
    z.avail_out = static_cast<uInt>(room);
    const int rc = inflate(&z, Z_SYNC_FLUSH);
    const std::size_t produced = room - z.avail_out;
    out.resize(before + produced);
    message_size_ += produced;
    if (max_message_size_ != 0 && message_size_ > max_message_size_) return InflateStatus::MessageTooBig;
    if (rc == Z_STREAM_END) {
      // A block with BFINAL set ended the sender's stream (§7.2.3.4): what
      // follows, if anything, starts a new one.
      restart_stream();
      if (z.avail_in == 0) {
        stream_ended_ = true;
        return InflateStatus::Ok;
      }
      continue;
    }
    if (rc == Z_MEM_ERROR) return InflateStatus::OutOfMemory;
    // Z_BUF_ERROR: no progress possible, i.e. all input used and all output given.
    if (rc != Z_OK && rc != Z_BUF_ERROR) return InflateStatus::CorruptData;
    if (rc == Z_BUF_ERROR || (z.avail_in == 0 && z.avail_out != 0)) return InflateStatus::Ok;
  }
}

void MessageInflater::restart_stream() noexcept {
  z_stream& z = state_->stream;
  if (no_context_takeover_) {
    inflateReset(&z);
    return;
  }
  // With context takeover the sender may still refer back into the bytes
  // before its final block, so the window survives the reset.
  unsigned char window[1u << 15];
  uInt length = sizeof window;
  inflateGetDictionary(&z, window, &length);
  inflateReset(&z);
  if (length > 0) inflateSetDictionary(&z, window, length);
}

InflateStatus MessageInflater::finish(std::string& out) {
  if (failed_ != InflateStatus::Ok) return failed_;
  // An empty payload is an empty message (what some senders make of one);
  // a stream that ended with a final block needs no flush tail.
  if (message_input_ != 0 && !stream_ended_) {
    const InflateStatus status = inflate_input(kFlushTail, sizeof kFlushTail, out);
    if (status != InflateStatus::Ok) return fail(status);
    // After the tail's empty stored block zlib waits for the next block's
    // header; anywhere else, the message was cut short mid-block.
    if (!stream_ended_ && (state_->stream.data_type & kAtBlockBoundary) == 0) {
      return fail(InflateStatus::CorruptData);
    }
  }
  end_message();
  return InflateStatus::Ok;
}

void MessageInflater::end_message() noexcept {
  message_size_ = 0;
  message_input_ = 0;
  stream_ended_ = false;
  if (!no_context_takeover_ || !state_) return;
  if (idle_ == IdleMemory::Keep) {
    inflateReset(&state_->stream);
  } else if (pool_ != nullptr) {
    pool_->give_back(std::move(state_));
  } else {
    state_.reset();
  }
}

std::size_t MessageInflater::allocated_bytes() const noexcept {
  return state_ ? sizeof(InflateState) + state_->memory.bytes() : 0;
}

}  // namespace wsbridge::ws
