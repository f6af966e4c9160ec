// Every on-disk byte written by storage/: the write-ahead log (WAL) segments and the
// snapshot files. If a byte is not described here, we do not write it. Integers are
// little-endian. "crc32" is zlib's crc32 (the IEEE 802.3 polynomial), computed as
// crc32(seed, bytes); crc32(0, x) is the plain checksum of x.
//
// ======================================================================================
// WAL directory
// ======================================================================================
//   <dir>/%016x-%016x.wal      segments, named <seq>-<first_index> in lower-case hex
//   <dir>/%016x-%016x.wal.tmp  a segment being prepared; ignored and deleted by Open
//   <dir>/wal.lock             advisory lock held by the one open Wal
//
// seq numbers the segments 0, 1, 2, ... with no gaps among the segments that remain
// (older ones may have been removed after a snapshot). first_index is one more than the
// last entry index the log held when the segment was cut, or than the newest snapshot
// marker's index if that is greater (0 for the first segment, as in etcd), so a reader that must replay from snapshot index S starts at the LAST segment
// whose first_index <= S. A later segment may still hold entries with smaller indexes
// (a new leader overwrote the tail); the reader resolves that, see "Replay" below.
//
// A segment is published whole: it is written as <name>.tmp (magic and its first four
// records), synced, renamed to <name>, and the directory is synced. So every published
// segment starts with a complete, durable header; only the tail of the last segment can
// be torn by a crash.
//
// Segment layout:
//   [0, 8)    magic "KEELWAL1" (the digit is the format version; a different one is
//             refused with kFailedPrecondition, not treated as corruption)
//   [8, ...)  records, back to back, each starting at an offset that is a multiple of 8
//
// Record layout (kRecordHeaderBytes = 16, then the payload, then zero padding):
//   [0, 4)    data_crc   u32  crc32(prev_data_crc, type_byte ‖ payload): a ROLLING crc.
//                             prev_data_crc is the data_crc of the previous record in
//                             the log, across segment boundaries. The very first record
//                             of a new log uses 0. A record copied, reordered, replayed
//                             or written to the wrong place breaks the chain even though
//                             its own bytes are intact (etcd's idea).
//   [4, 8)    length     u32  payload bytes, <= kMaxRecordPayloadBytes
//   [8]       type       u8   a RecordType below; 0 is never valid
//   [9]       pad        u8   number of zero bytes after the payload (0..7) so that the
//                             next record starts 8-byte aligned: (16+length+pad) % 8 == 0
//   [10, 12)  reserved   u16  zero
//   [12, 16)  header_crc u32  crc32(0, bytes [0, 12)): lets a reader trust `length`
//                             before it has read the payload, which is what separates
//                             a torn tail (header fine, payload cut short by EOF) from
//                             corruption (header itself damaged)
//   [16, 16+length)           payload
//   then `pad` zero bytes      (checked on read: non-zero padding is corruption)
//
// Record types and payloads:
//   1 kSegmentHeader  first record of every segment. Payload 32 bytes:
//                       u64 seq, u64 first_index, u32 prev_data_crc, u32 reserved (0),
//                       u64 reserved (0).
//                     prev_data_crc is the chain value the segment continues from (the
//                     data_crc of the last record of the previous segment), which lets a
//                     reader start the chain at any segment. Its own data_crc is computed
//                     with that value as seed. seq and first_index must equal the name.
//   2 kMetadata       opaque bytes given to Wal::Create (node id / cluster id blob).
//                     Second record of every segment; all copies must be equal.
//   3 kHardState      a serialized raftpb::HardState. The third record of every segment
//                     repeats the latest one, so each segment is self-contained.
//   4 kEntry          a serialized raftpb::Entry.
//   5 kSnapshotMarker 16 or 24 bytes: u64 index, u64 term of a snapshot that was saved,
//                     then optionally u64 flags. The only flag is bit 0,
//                     kSnapshotMarkerInstalled: the snapshot was RECEIVED and installed
//                     (InstallSnapshot), so it replaced the whole log; any other set bit is
//                     corruption. A 16-byte marker (every marker of older WALs, and every
//                     locally taken snapshot) has no flags: the entries after its index stay
//                     the live log. The writer encodes an installed marker as 24 bytes with
//                     the flag and everything else as 16 bytes. The fourth record of every
//                     segment repeats the latest marker, always as 16 bytes (the repeat is
//                     not an install: entries before it in the log are after the install).
// A segment's head is exactly its first four records in the order above; a segment
// without a complete head, or with a head record of another type, is corrupt.
//
// Recovery rules (Wal::ReadAll):
//   * last segment: the first record that is incomplete (fewer than 16 header bytes, or
//     a valid header whose payload+padding runs past end of file) is a torn write: the
//     file is truncated at that record's offset and appending resumes there. Everything
//     before it was fully written. Zero bytes from a record's start to end of file are
//     torn only up to kRecordTypeOffset + 1 bytes (they could begin a header; its type
//     byte is never zero). More zeros are no prefix of any record: a write that was
//     fsync'd but never landed (misdirected or lost; no Keel writer leaves zeros, there is
//     no preallocation). Truncating them would forget an acknowledged vote or entries, so
//     they are corruption (below).
//   * anything else that fails (bad header_crc, bad data_crc, unknown type, non-zero
//     padding, bad magic, a torn record in a non-last segment, a seq gap after the segment
//     replay starts from, a name that disagrees with its header, entry index gaps) is
//     corruption: kDataLoss naming the file and byte offset. The WAL is never silently
//     shortened outside the torn tail.
//   * segments before the last seq gap are leftovers of a segment removal that did not
//     finish (removal goes oldest first): never replayed, removed with the next removal.
//     Replay starts after the gap, which needs nothing before it: each segment's head
//     repeats the HardState and the latest snapshot marker.
//
// Replay (raft log truncation semantics, as etcd's WAL ReadAll): entries are replayed in
// record order; an entry with index i discards any previously replayed entries >= i. An
// entry with index > last+1 is a gap (kDataLoss). Entries <= the snapshot index the Wal
// was opened at are not replayed, but still discard every replayed entry (all are above
// the snapshot index, so >= theirs). An installed marker (flag kSnapshotMarkerInstalled)
// discards every entry replayed before it, whatever their indexes: they are the log the
// received snapshot replaced, and only entries written after the marker follow it. An
// installed marker with an index above the snapshot the Wal was opened at means that
// older snapshot cannot rebuild the log (the entries up to the installed index were never
// in this WAL): kDataLoss.
//
// ======================================================================================
// Snapshot files
// ======================================================================================
//   <dir>/%016x-%016x.snap         term-index of the snapshot, lower-case hex (etcd)
//   <dir>/%016x-%016x.snap.tmp     being written or received; never loaded
//   <dir>/%016x-%016x.snap.broken  failed verification on load; kept for post-mortem
//
// Layout (kSnapshotHeaderBytes = 48, then the payload):
//   [0, 8)    magic "KEELSNP1" (digit = format version)
//   [8, 16)   term         u64  equal to metadata.term and to the file name
//   [16, 24)  index        u64  equal to metadata.index and to the file name
//   [24, 32)  payload_size u64  bytes after the header; the file is exactly
//                               48 + payload_size bytes long
//   [32, 36)  payload_crc  u32  crc32(0, payload)
//   [36, 40)  reserved     u32  zero
//   [40, 44)  reserved     u32  zero
//   [44, 48)  header_crc   u32  crc32(0, bytes [0, 44))
//   [48, ...) payload: a serialized raftpb::Snapshot
// The header comes first so a receiver of a streamed snapshot can check it and name the
// file before the payload arrives, and verify the crc as chunks stream through.
//
// ======================================================================================
// Backend image files (InstallSnapshot data, storage/backend_image.h)
// ======================================================================================
// A leader streams its whole backend to a lagging follower as one of these, beside the
// Raft MsgSnap (which itself carries only metadata), in bounded chunks; see "Snapshot
// transfer" below. All live in the snapshot directory:
//   <dir>/out-%016x.kimg.tmp       the leader's dump for one transfer (id in hex); removed
//                                  when the transfer ends, and at start-up
//   <dir>/%016x-%016x-%016x.kimg.tmp  term-index-transfer id, being received; removed at
//                                  start-up and when the transfer fails
//   <dir>/%016x-%016x-%016x.kimg   received, verified and durable (fsync + rename + dir
//                                  fsync) before the MsgSnap is stepped into Raft; its name
//                                  is the MsgSnap's snapshot.data and the saved .snap's
//                                  data. Removed once the backend holding it is durable,
//                                  and at start-up after recovery used it.
//
// Layout:
//   [0, 8)    magic "KEELIMG1"
//   records, back to back, in the backend's key order:
//     [0, 4)  key_bytes   u32  <= kMaxImageRecordBytes (0xffffffff marks the trailer)
//     [4, 8)  value_bytes u32  <= kMaxImageRecordBytes
//     key bytes (a raw backend key: bucket '\0' key), then value bytes
//   trailer (kImageTrailerBytes = 24):
//     [0, 4)   0xffffffff
//     [4, 8)   zero
//     [8, 16)  record_count u64
//     [16, 20) crc          u32  crc32(0, every byte before the trailer)
//     [20, 24) trailer_crc  u32  crc32(0, trailer bytes [0, 20))
//   nothing after the trailer.
//
// Snapshot transfer (keel.serverpb.SnapshotChunk / SnapshotChunkAck, server/serverpb): the
// image file's bytes, in order, in chunks of at most kImageChunkBytes. Chunk 0 carries the
// MsgSnap, the file's total size and crc32; every chunk carries its own crc32(0, data).
// Stop-and-wait: the sender sends chunk n+1 only after the ack for n. The receiver appends
// to the .kimg.tmp file, and publishes only when size and whole-file crc match (then the
// trailer is re-verified when the image is read to install it). A lost, corrupt,
// duplicated-out-of-order or stalled chunk fails the whole transfer; the leader reports
// the snapshot failed to Raft, which sends a new MsgSnap later.
//
// ======================================================================================
// Backup files (Maintenance.Snapshot, `etcdctl snapshot save`)
// ======================================================================================
//   [0, 8)    magic "KEELBAK1"
//   [8, 16)   payload_size u64
//   [16, ...) payload: a serialized keel.serverpb.BackendSnapshot (every backend record)
//   then zero bytes up to a multiple of 512, and the 32-byte SHA-256 of everything before
//   it, appended by the gRPC layer exactly as etcd appends it to its bolt file. etcdctl
//   checks `size % 512 == 32` and the hash; the padding is what makes ours pass that.
#ifndef KEEL_STORAGE_FORMAT_H_
#define KEEL_STORAGE_FORMAT_H_

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace keel::storage {

// ---- Backup files ----
inline constexpr std::string_view kBackupMagic = "KEELBAK1";
inline constexpr size_t kBackupAlignmentBytes = 512;

// ---- WAL ----
inline constexpr std::string_view kWalMagic = "KEELWAL1";
inline constexpr size_t kWalMagicBytes = 8;
inline constexpr size_t kRecordHeaderBytes = 16;
// Offset of the type byte in a record header (never zero in a valid record).
inline constexpr size_t kRecordTypeOffset = 8;
inline constexpr size_t kRecordAlignmentBytes = 8;
// Large enough for any raft entry we accept (etcd's default request limit is 1.5 MiB;
// 64 MiB leaves room for big conf changes), small enough that a corrupt length cannot
// make a reader allocate gigabytes even if the header crc collided.
inline constexpr uint32_t kMaxRecordPayloadBytes = 64u << 20;
inline constexpr size_t kSegmentHeaderPayloadBytes = 32;
inline constexpr size_t kSnapshotMarkerPayloadBytes = 16;
inline constexpr size_t kInstalledSnapshotMarkerPayloadBytes = 24;  // + u64 flags
inline constexpr uint64_t kSnapshotMarkerInstalled = 1;  // flags bit 0: a received snapshot
inline constexpr uint64_t kDefaultSegmentSizeBytes = 64ull << 20;

enum class RecordType : uint8_t {
  kSegmentHeader = 1,
  kMetadata = 2,
  kHardState = 3,
  kEntry = 4,
  kSnapshotMarker = 5,
};
inline constexpr uint8_t kMaxRecordType = 5;
// Every segment starts with exactly these, in this order (its "head").
inline constexpr RecordType kSegmentHeadTypes[] = {RecordType::kSegmentHeader,
                                                   RecordType::kMetadata, RecordType::kHardState,
                                                   RecordType::kSnapshotMarker};
inline constexpr size_t kSegmentHeadRecords = 4;

inline constexpr std::string_view kWalSuffix = ".wal";
inline constexpr std::string_view kTmpSuffix = ".tmp";
inline constexpr std::string_view kWalTmpSuffix = ".wal.tmp";
inline constexpr std::string_view kWalLockName = "wal.lock";

// ---- Snapshots ----
inline constexpr std::string_view kSnapMagic = "KEELSNP1";
inline constexpr size_t kSnapshotHeaderBytes = 48;
inline constexpr std::string_view kSnapSuffix = ".snap";
inline constexpr std::string_view kBrokenSuffix = ".broken";

// ---- Backend images ----
inline constexpr std::string_view kImageMagic = "KEELIMG1";
inline constexpr std::string_view kImageSuffix = ".kimg";
inline constexpr std::string_view kImageOutgoingPrefix = "out-";
inline constexpr uint32_t kImageTrailerMarker = 0xffffffffu;
inline constexpr size_t kImageTrailerBytes = 24;
inline constexpr uint32_t kMaxImageRecordBytes = 64u << 20;
inline constexpr size_t kImageWriteBufferBytes = 1u << 20;
inline constexpr size_t kImageChunkBytes = 1u << 20;

}  // namespace keel::storage

#endif  // KEEL_STORAGE_FORMAT_H_
