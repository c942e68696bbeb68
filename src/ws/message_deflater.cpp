// Whole-message compression. The output grows in steps until zlib has
// flushed everything; the sync flush's empty stored block ends in
// 00 00 ff ff, which §7.2.1 says to drop (the receiver adds it back).
#include "wsbridge/ws/message_deflater.h"

#include <zlib.h>

#include <algorithm>
#include <cstring>
#include <new>

#include "zlib_memory.h"

namespace wsbridge::ws {
namespace {

constexpr unsigned char kFlushTail[4] = {0x00, 0x00, 0xff, 0xff};
// zlib counts in uInt; larger messages go in pieces of this size.
constexpr std::size_t kMaxPiece = std::size_t{1} << 30;
// Room added when zlib fills the output: a few more bytes than the flush
// marker and block headers that may still be pending.
constexpr std::size_t kMinGrowth = 64;

}  // namespace

// zlib's stream and the counter its allocations go through. deflateEnd on a
// stream whose init failed or never ran is a harmless no-op (its state is null).
struct MessageDeflater::State {
  z_stream stream{};
  ZlibMemory memory;
  ~State() { deflateEnd(&stream); }
};

MessageDeflater::MessageDeflater(int window_bits, bool no_context_takeover, IdleMemory idle, int mem_level,
                                 int level) noexcept
    // zlib refuses a raw 8-bit window (deflateInit2 returns Z_STREAM_ERROR);
    // with 9 bits it keeps matches within w_size - MIN_LOOKAHEAD = 250
    // bytes (deflate.c, MAX_DIST), so a peer with an 8-bit window can follow.
    : window_bits_(static_cast<std::uint8_t>(std::clamp(window_bits, 9, 15))),
      mem_level_(static_cast<std::uint8_t>(std::clamp(mem_level, 1, 9))),
      level_(static_cast<std::uint8_t>(std::clamp(level, 1, 9))),
      no_context_takeover_(no_context_takeover),
      idle_(idle) {}

MessageDeflater MessageDeflater::for_server(const DeflateParameters& agreed, IdleMemory idle) noexcept {
  return MessageDeflater(agreed.server_max_window_bits, agreed.server_no_context_takeover, idle);
}

MessageDeflater::~MessageDeflater() = default;
MessageDeflater::MessageDeflater(MessageDeflater&&) noexcept = default;
MessageDeflater& MessageDeflater::operator=(MessageDeflater&&) noexcept = default;

bool MessageDeflater::make_state() noexcept {
  // The stream record lives on the heap so that ZlibMemory, whose address
  // zlib keeps, never moves when the deflater does.
  state_.reset(new (std::nothrow) State);
  if (!state_) return false;
  state_->memory.attach(state_->stream);
  // Negative window bits: raw DEFLATE, no zlib header or checksum (§7.2.1).
  if (deflateInit2(&state_->stream, level_, Z_DEFLATED, -window_bits_, mem_level_, Z_DEFAULT_STRATEGY) != Z_OK) {
    state_.reset();
    return false;
  }
  return true;
}

bool MessageDeflater::compress(std::string_view message, std::string& out) {
  if (message.empty()) {
    // §7.2.3.6: one 00 byte is an empty message (with the receiver's tail
    // it makes an empty stored block). zlib cannot make it once the stream
    // is in use: a second sync flush with no input is Z_BUF_ERROR. The
    // stream stays byte-aligned after the last flush, so skipping zlib
    // leaves both ends' windows as they were.
    out.push_back('\0');
    return true;
  }
  if (!state_ && !make_state()) return false;
  z_stream& z = state_->stream;
  const std::size_t start = out.size();
  std::size_t used = start;
  out.resize(start + deflateBound(&z, static_cast<uLong>(std::min(message.size(), kMaxPiece))) + kMinGrowth);
  std::size_t offset = 0;
  for (;;) {
    const std::size_t piece = std::min(message.size() - offset, kMaxPiece);
    z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(message.data() + offset));
    z.avail_in = static_cast<uInt>(piece);
    const bool last_piece = offset + piece == message.size();
    const int flush = last_piece ? Z_SYNC_FLUSH : Z_NO_FLUSH;
    for (;;) {
      if (out.size() - used < kMinGrowth) out.resize(out.size() + std::max(kMinGrowth, out.size() / 2));
      const std::size_t room = std::min(out.size() - used, kMaxPiece);
      z.next_out = reinterpret_cast<Bytef*>(out.data() + used);
      z.avail_out = static_cast<uInt>(room);
      const int rc = deflate(&z, flush);
      used += room - z.avail_out;
      // Z_BUF_ERROR only means no progress was possible: nothing left to do.
      if (rc != Z_OK && rc != Z_BUF_ERROR) {
        out.resize(start);
        return false;
      }
      if (z.avail_in == 0 && z.avail_out != 0) break;
    }
    offset += piece;
    if (last_piece) break;
  }
  // A sync flush always ends in the empty stored block's 00 00 ff ff.
  const bool has_tail = used - start >= 4 && std::memcmp(out.data() + used - 4, kFlushTail, 4) == 0;
  out.resize(has_tail ? used - 4 : start);
  if (!has_tail) return false;
  end_message();
  return true;
}

void MessageDeflater::end_message() noexcept {
  if (!no_context_takeover_) return;
  if (idle_ == IdleMemory::Release) {
    state_.reset();
  } else {
    deflateReset(&state_->stream);
  }
}

std::size_t MessageDeflater::allocated_bytes() const noexcept {
  return state_ ? sizeof(State) + state_->memory.bytes() : 0;
}

}  // namespace wsbridge::ws
