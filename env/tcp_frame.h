// The byte format of peer messages on a TcpTransport stream, and its decoder.
//
// A stream is a sequence of frames, nothing else (no preamble):
//
//   offset  size  field
//   0       4     payload_size_bytes   little-endian u32, <= the receiver's max
//   4       4     crc32                little-endian u32, zlib crc32 of bytes [8, 16 + size)
//   8       8     from                 little-endian u64, sender's member id
//   16      size  payload              opaque (a serialized raftpb::Message in practice)
//
// Two kinds of frames share this layout, told apart by `from` (member IDs are never 0):
//   * from != 0: a peer message. Streams of them are pipelined one way (sender -> listener)
//     and nothing ever answers them on the same connection.
//   * from == 0 (kQueryFrom): a control query, sent by a process that has no member ID yet
//     (a member joining a running cluster asks for the membership). The listener answers
//     with exactly one frame on the same connection, `from` = its own member ID (0 if not
//     known yet), payload = the answer (empty: it could not answer). One query at a time
//     per connection; the asker closes the connection after the answer.
//
// The CRC covers `from` and the payload, so a flipped bit anywhere but the length is
// caught by the CRC, and a corrupted length is caught by the size bound or, failing that,
// by the CRC of the misframed bytes. Either error closes the connection: after a framing
// error nothing later on the stream can be trusted.
#ifndef KEEL_ENV_TCP_FRAME_H_
#define KEEL_ENV_TCP_FRAME_H_

#include <cstddef>
#include <cstdint>
#include <deque>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace keel::env {

inline constexpr size_t kFrameHeaderBytes = 16;
// The `from` of a control query frame (see above).
inline constexpr uint64_t kQueryFrom = 0;

// Appends one encoded frame to `*out`. Requires payload.size() < 2^32.
void AppendFrame(uint64_t from, std::string_view payload, std::string* out);

// Moves payloads from the front of `*queue` into `*out` as frames, coalescing them so one
// write(2) carries many messages: stops before a frame would take `*out` past
// `max_batch_bytes`, but always takes at least one if the queue is not empty. Returns the
// number of frames appended. Bounded by the queue's length.
size_t AppendBatch(uint64_t from, size_t max_batch_bytes, std::deque<std::string>* queue,
                   std::string* out);

struct Frame {
  uint64_t from = 0;
  std::string payload;
};

// Reassembles frames from arbitrary chunks of a stream. Memory is bounded by one maximal
// frame plus the largest chunk fed.
class FrameDecoder {
 public:
  explicit FrameDecoder(size_t max_payload_bytes) : max_payload_bytes_(max_payload_bytes) {}

  void Feed(std::string_view bytes);

  // true: `*frame` holds the next frame. false: more bytes are needed. kDataLoss: bad CRC
  // or a size above the maximum; the decoder is then unusable (the stream must close).
  absl::StatusOr<bool> Next(Frame* frame);

  size_t buffered_bytes() const { return buffer_.size() - consumed_; }

 private:
  const size_t max_payload_bytes_;
  std::string buffer_;
  size_t consumed_ = 0;  // bytes at the front of buffer_ already decoded
  absl::Status error_;
};

}  // namespace keel::env

#endif  // KEEL_ENV_TCP_FRAME_H_
