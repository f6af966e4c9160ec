// Framing of one WAL record (layout in storage/format.h): encoding, and decoding with the
// torn-versus-corrupt classification that recovery depends on.
#ifndef KEEL_STORAGE_RECORD_H_
#define KEEL_STORAGE_RECORD_H_

#include <cstdint>
#include <string>
#include <string_view>

#include "storage/format.h"

namespace keel::storage {

// The rolling checksum: crc32(prev_data_crc, type_byte ‖ payload).
uint32_t ChainCrc(uint32_t prev_data_crc, RecordType type, std::string_view payload);

// Appends the framed record (header, payload, zero padding) to `*out` and returns its
// data_crc, which the caller passes as `prev_data_crc` of the next record.
// Requires payload.size() <= kMaxRecordPayloadBytes.
uint32_t AppendRecord(RecordType type, std::string_view payload, uint32_t prev_data_crc,
                      std::string* out);

// Bytes AppendRecord adds for a payload of `payload_bytes`.
uint64_t FramedRecordBytes(uint64_t payload_bytes);

struct DecodedRecord {
  enum class Outcome {
    kRecord,   // a well-formed record; `type`, `payload`, `data_crc` are set
    kEnd,      // `offset` is exactly the end of the data
    kTorn,     // cut short by end of data, or an all-zero tail: a write that never landed
    kCorrupt,  // damaged bytes; `reason` says which check failed
  };
  Outcome outcome = Outcome::kEnd;
  RecordType type = RecordType::kEntry;
  std::string_view payload;  // points into the decoded buffer
  uint32_t data_crc = 0;     // as stored; the caller checks the chain with ChainCrc
  uint64_t next_offset = 0;  // start of the following record (kRecord only)
  std::string reason;        // kCorrupt and kTorn only
};

// Decodes the record starting at `offset` of `data` (a whole segment). Checks the header
// crc, type, length bound, padding; NOT the chained data_crc, which needs context the
// caller has. Requires offset <= data.size() and offset % kRecordAlignmentBytes == 0.
DecodedRecord DecodeRecord(std::string_view data, uint64_t offset);

}  // namespace keel::storage

#endif  // KEEL_STORAGE_RECORD_H_
