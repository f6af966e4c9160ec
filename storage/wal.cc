#include "storage/wal.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "base/check.h"
#include "storage/coding.h"
#include "storage/file_util.h"
#include "storage/record.h"

namespace keel::storage {
namespace {

struct ParsedName {
  uint64_t seq = 0;
  uint64_t first_index = 0;
};

// Parses "%016x-%016x.wal"; nullopt for anything else.
std::optional<ParsedName> ParseSegmentName(std::string_view name) {
  std::optional<std::pair<uint64_t, uint64_t>> pair = ParseHexPairName(name, kWalSuffix);
  if (!pair.has_value()) return std::nullopt;
  return ParsedName{pair->first, pair->second};
}

// A marker record's payload; `installed` adds the flags word (format.h, kSnapshotMarker).
std::string EncodeMarker(WalSnapshot snapshot, bool installed = false) {
  std::string payload;
  PutFixed64(&payload, snapshot.index);
  PutFixed64(&payload, snapshot.term);
  KEEL_CHECK(payload.size() == kSnapshotMarkerPayloadBytes);
  if (installed) {
    PutFixed64(&payload, kSnapshotMarkerInstalled);
    KEEL_CHECK(payload.size() == kInstalledSnapshotMarkerPayloadBytes);
  }
  return payload;
}

bool IsEmptyHardState(const raftpb::HardState& hs) {
  return hs.term() == 0 && hs.vote() == 0 && hs.commit() == 0;
}

// Everything ReadAll accumulates while walking the segments.
struct Replay {
  WalSnapshot from;  // the snapshot the Wal was opened at
  bool marker_found = false;
  bool chain_started = false;
  uint32_t chain_crc = 0;
  bool have_metadata = false;
  WalContents contents;
  std::vector<WalSnapshot> markers;  // distinct, in log order
};

absl::Status Corrupt(std::string_view path, uint64_t offset, std::string_view reason) {
  return absl::DataLossError(
      absl::StrFormat("storage/wal: %s: offset %d: %s", path, offset, reason));
}

absl::Status ApplySegmentHeader(std::string_view path, uint64_t offset, const ParsedName& name,
                                std::string_view payload, Replay* replay) {
  if (payload.size() != kSegmentHeaderPayloadBytes) {
    return Corrupt(path, offset, "segment header has the wrong size");
  }
  const uint64_t seq = GetFixed64(payload.data());
  const uint64_t first_index = GetFixed64(payload.data() + 8);
  const uint32_t prev_crc = GetFixed32(payload.data() + 16);
  if (GetFixed32(payload.data() + 20) != 0 || GetFixed64(payload.data() + 24) != 0) {
    return Corrupt(path, offset, "non-zero reserved bytes in segment header");
  }
  if (seq != name.seq || first_index != name.first_index) {
    return Corrupt(path, offset,
                   absl::StrFormat("segment header says seq %d first_index %d, name disagrees", seq,
                                   first_index));
  }
  if (replay->chain_started && prev_crc != replay->chain_crc) {
    return Corrupt(path, offset,
                   absl::StrFormat("checksum chain broken: segment continues from %08x, "
                                   "previous segment ended at %08x",
                                   prev_crc, replay->chain_crc));
  }
  replay->chain_crc = prev_crc;
  replay->chain_started = true;
  return absl::OkStatus();
}

absl::Status ApplyEntry(std::string_view path, uint64_t offset, std::string_view payload,
                        Replay* replay) {
  raftpb::Entry entry;
  if (!entry.ParseFromArray(payload.data(), static_cast<int>(payload.size()))) {
    return Corrupt(path, offset, "unparsable entry");
  }
  if (entry.index() == 0) return Corrupt(path, offset, "entry with index 0");
  std::vector<raftpb::Entry>& entries = replay->contents.entries;
  if (entry.index() <= replay->from.index) {
    // In the snapshot, so not replayed; but still a later record for its index, which
    // supersedes every entry replayed so far (all of them are above the snapshot index).
    // Those are a tail that a new leader overwrote before the snapshot was taken (say 143
    // of term 25, then 141-142 of term 26, then a snapshot at 142): keeping them would
    // resurrect 143 behind the snapshot, a log whose terms decrease.
    entries.clear();
    return absl::OkStatus();
  }
  // Position of this entry in `entries`; a later record for index i supersedes every
  // earlier one >= i (a new leader overwrote the uncommitted tail).
  const uint64_t position = entry.index() - replay->from.index - 1;
  if (position > entries.size()) {
    return Corrupt(path, offset,
                   absl::StrFormat("entry index gap: got %d after %d", entry.index(),
                                   replay->from.index + entries.size()));
  }
  entries.resize(position);
  entries.push_back(std::move(entry));
  return absl::OkStatus();
}

absl::Status ApplyRecord(std::string_view path, uint64_t offset, const DecodedRecord& record,
                         Replay* replay) {
  WalContents& contents = replay->contents;
  switch (record.type) {
    case RecordType::kSegmentHeader:
      return Corrupt(path, offset, "segment header record in the middle of a segment");
    case RecordType::kMetadata:
      if (replay->have_metadata && contents.metadata != record.payload) {
        return Corrupt(path, offset, "metadata differs from an earlier copy");
      }
      contents.metadata = std::string(record.payload);
      replay->have_metadata = true;
      return absl::OkStatus();
    case RecordType::kHardState:
      if (!contents.hard_state.ParseFromArray(record.payload.data(),
                                              static_cast<int>(record.payload.size()))) {
        return Corrupt(path, offset, "unparsable HardState");
      }
      return absl::OkStatus();
    case RecordType::kEntry:
      return ApplyEntry(path, offset, record.payload, replay);
    case RecordType::kSnapshotMarker: {
      if (record.payload.size() != kSnapshotMarkerPayloadBytes &&
          record.payload.size() != kInstalledSnapshotMarkerPayloadBytes) {
        return Corrupt(path, offset, "snapshot marker has the wrong size");
      }
      const WalSnapshot marker{GetFixed64(record.payload.data()),
                               GetFixed64(record.payload.data() + 8)};
      const uint64_t flags = record.payload.size() == kInstalledSnapshotMarkerPayloadBytes
                                 ? GetFixed64(record.payload.data() + 16)
                                 : 0;
      if ((flags & ~kSnapshotMarkerInstalled) != 0) {
        return Corrupt(path, offset,
                       absl::StrFormat("snapshot marker has unknown flags %x", flags));
      }
      if ((flags & kSnapshotMarkerInstalled) != 0) {
        // A received snapshot replaced the whole log: every entry replayed so far was
        // written before it (the follower's previous, possibly conflicting, log).
        if (marker.index > replay->from.index) {
          return Corrupt(path, offset,
                         absl::StrFormat("snapshot installed at index %d replaced the log; it "
                                         "cannot be replayed from the older snapshot at %d",
                                         marker.index, replay->from.index));
        }
        contents.entries.clear();
      }
      if (marker.index == replay->from.index && marker.index != 0) {
        if (marker.term != replay->from.term) {
          return absl::FailedPreconditionError(absl::StrFormat(
              "storage/wal: %s: offset %d: snapshot marker at index %d has term %d, "
              "the snapshot being restored has term %d",
              path, offset, marker.index, marker.term, replay->from.term));
        }
        replay->marker_found = true;
      }
      contents.latest_snapshot_marker = marker;
      // Segment heads repeat the latest marker; list each marker once.
      if (replay->markers.empty() || !(replay->markers.back() == marker)) {
        replay->markers.push_back(marker);
      }
      return absl::OkStatus();
    }
  }
  return Corrupt(path, offset, "unknown record type");
}

// Replays one segment file. For the last segment, returns through `valid_bytes` where a
// torn tail starts (== file size when there is none).
absl::Status ReplaySegment(env::FileSystem* fs, std::string_view path, const ParsedName& name,
                           bool is_last, Replay* replay, uint64_t* valid_bytes) {
  absl::StatusOr<std::string> data = ReadWholeFile(fs, path);
  if (!data.ok()) return data.status();
  const std::string_view bytes = *data;
  if (bytes.size() < kWalMagicBytes ||
      bytes.substr(0, kWalMagicBytes - 1) != kWalMagic.substr(0, kWalMagicBytes - 1)) {
    return Corrupt(path, 0, "not a Keel WAL segment (bad magic)");
  }
  if (bytes.substr(0, kWalMagicBytes) != kWalMagic) {
    // A digit is a format version we do not speak; anything else is damage.
    if (bytes[7] < '0' || bytes[7] > '9') return Corrupt(path, 7, "bad magic");
    return absl::FailedPreconditionError(
        absl::StrFormat("storage/wal: %s: unsupported WAL format version '%c'", path, bytes[7]));
  }
  uint64_t offset = kWalMagicBytes;
  // Each iteration consumes >= kRecordHeaderBytes, so this bounds the loop.
  const uint64_t max_records = bytes.size() / kRecordHeaderBytes + 1;
  for (uint64_t n = 0; n < max_records; ++n) {
    DecodedRecord record = DecodeRecord(bytes, offset);
    switch (record.outcome) {
      case DecodedRecord::Outcome::kEnd:
        if (n < kSegmentHeadRecords) return Corrupt(path, offset, "segment head incomplete");
        *valid_bytes = offset;
        return absl::OkStatus();
      case DecodedRecord::Outcome::kTorn:
        // Segments are published whole, so only the last one can end mid-write, and
        // never inside its head.
        if (!is_last || n < kSegmentHeadRecords) return Corrupt(path, offset, record.reason);
        *valid_bytes = offset;
        return absl::OkStatus();
      case DecodedRecord::Outcome::kCorrupt:
        return Corrupt(path, offset, record.reason);
      case DecodedRecord::Outcome::kRecord:
        break;
    }
    if (n < kSegmentHeadRecords && record.type != kSegmentHeadTypes[n]) {
      return Corrupt(
          path, offset,
          absl::StrFormat("segment head record %d has type %d", n, static_cast<int>(record.type)));
    }
    if (n == 0) {
      absl::Status s = ApplySegmentHeader(path, offset, name, record.payload, replay);
      if (!s.ok()) return s;
    }
    if (ChainCrc(replay->chain_crc, record.type, record.payload) != record.data_crc) {
      return Corrupt(path, offset, "record checksum mismatch");
    }
    replay->chain_crc = record.data_crc;
    if (n != 0) {
      absl::Status s = ApplyRecord(path, offset, record, replay);
      if (!s.ok()) return s;
    }
    offset = record.next_offset;
  }
  KEEL_CHECK_MSG(false, "record loop bound exceeded");
  return absl::InternalError("storage/wal: record loop bound exceeded");
}

}  // namespace

std::string Wal::SegmentName(uint64_t seq, uint64_t first_index) {
  return absl::StrFormat("%016x-%016x%s", seq, first_index, kWalSuffix);
}

Wal::Wal(env::FileSystem* fs, std::string dir, WalOptions options,
         std::unique_ptr<env::FileLock> lock)
    : fs_(fs),
      dir_(std::move(dir)),
      options_(options),
      lock_(std::move(lock)),
      self_(std::make_shared<Wal*>(this)) {
  KEEL_CHECK(fs_ != nullptr);
  KEEL_CHECK(options_.segment_size_bytes > 0);
}

Wal::~Wal() {
  if (!pending_cut_.has_value()) return;
  std::deque<QueuedSave> queue = std::move(pending_cut_->queue);
  pending_cut_.reset();
  for (QueuedSave& save : queue) {
    std::move(save.done)(absl::CancelledError("storage/wal: closed before the write was issued"));
  }
}

bool Wal::Exists(env::FileSystem* fs, std::string_view dir) {
  absl::StatusOr<std::vector<std::string>> children = fs->GetChildren(dir);
  if (!children.ok()) return false;
  return std::any_of(children->begin(), children->end(),
                     [](const std::string& name) { return ParseSegmentName(name).has_value(); });
}

std::string Wal::PathOf(std::string_view name) const { return JoinPath(dir_, name); }

absl::StatusOr<std::unique_ptr<Wal>> Wal::Create(env::FileSystem* fs, std::string_view dir,
                                                 std::string_view metadata, WalOptions options) {
  if (metadata.size() > kMaxRecordPayloadBytes) {
    return absl::InvalidArgumentError("storage/wal: metadata too large");
  }
  absl::Status s = CreateDirDurably(fs, dir);
  if (!s.ok()) return s;
  absl::StatusOr<std::unique_ptr<env::FileLock>> lock = fs->LockFile(JoinPath(dir, kWalLockName));
  if (!lock.ok()) return lock.status();
  if (Exists(fs, dir)) {
    return absl::AlreadyExistsError(absl::StrFormat("storage/wal: %s already holds a WAL", dir));
  }
  s = RemoveFilesWithSuffix(fs, dir, kWalTmpSuffix);
  if (!s.ok()) return s;
  std::unique_ptr<Wal> wal(new Wal(fs, std::string(dir), options, *std::move(lock)));
  wal->metadata_ = std::string(metadata);
  const Segment first{0, 0, SegmentName(0, 0)};
  wal->pending_cut_ = PendingCut{first, wal->EncodeSegmentHead(first), {}};
  s = wal->PublishPendingSegment();
  if (!s.ok()) return s;
  wal->pending_cut_.reset();
  wal->replayed_ = true;
  wal->appending_ = true;
  return wal;
}

absl::StatusOr<std::vector<Wal::Segment>> Wal::ListSegments(env::FileSystem* fs,
                                                            std::string_view dir, bool remove_tmp,
                                                            size_t* stale) {
  absl::StatusOr<std::vector<std::string>> children = fs->GetChildren(dir);
  if (!children.ok()) return children.status();
  std::vector<Segment> segments;
  for (const std::string& name : *children) {
    if (HasSuffix(name, kWalTmpSuffix)) {
      // An interrupted cut: never published, so it holds nothing acknowledged.
      if (!remove_tmp) continue;
      absl::Status s = fs->RemoveFile(JoinPath(dir, name));
      if (!s.ok()) return s;
      continue;
    }
    if (!HasSuffix(name, kWalSuffix)) continue;
    std::optional<ParsedName> parsed = ParseSegmentName(name);
    if (!parsed.has_value()) {
      return absl::DataLossError(
          absl::StrCat("storage/wal: ", JoinPath(dir, name), ": unparsable segment name"));
    }
    segments.push_back(Segment{parsed->seq, parsed->first_index, name});
  }
  if (segments.empty()) {
    return absl::NotFoundError(absl::StrFormat("storage/wal: no WAL segments in %s", dir));
  }
  std::sort(segments.begin(), segments.end(),
            [](const Segment& a, const Segment& b) { return a.seq < b.seq; });
  *stale = 0;
  for (size_t i = 1; i < segments.size(); ++i) {
    if (segments[i].seq == segments[i - 1].seq) {
      return absl::DataLossError(absl::StrCat("storage/wal: ", JoinPath(dir, segments[i].name),
                                              ": duplicate segment sequence number"));
    }
    if (segments[i].seq != segments[i - 1].seq + 1) *stale = i;
  }
  return segments;
}

absl::StatusOr<std::vector<WalSnapshot>> Wal::ReadSnapshotMarkers(env::FileSystem* fs,
                                                                  std::string_view dir) {
  size_t stale = 0;
  absl::StatusOr<std::vector<Segment>> segments = ListSegments(fs, dir, /*remove_tmp=*/false, &stale);
  if (!segments.ok()) return segments.status();
  Replay replay;
  // Every entry is "inside the snapshot", so replay only checks and collects markers.
  // Segments before a gap are skipped: the first one after it repeats the latest marker
  // of its time in its head, which is at least as new as any marker before it.
  replay.from = WalSnapshot{UINT64_MAX, 0};
  for (size_t i = stale; i < segments->size(); ++i) {
    const Segment& segment = (*segments)[i];
    uint64_t valid_bytes = 0;
    absl::Status s =
        ReplaySegment(fs, JoinPath(dir, segment.name), ParsedName{segment.seq, segment.first_index},
                      i + 1 == segments->size(), &replay, &valid_bytes);
    if (!s.ok()) return s;
  }
  return std::move(replay.markers);
}

absl::StatusOr<std::unique_ptr<Wal>> Wal::Open(env::FileSystem* fs, std::string_view dir,
                                               WalSnapshot snapshot, WalOptions options) {
  absl::StatusOr<std::unique_ptr<env::FileLock>> lock = fs->LockFile(JoinPath(dir, kWalLockName));
  if (!lock.ok()) return lock.status();
  size_t stale = 0;
  absl::StatusOr<std::vector<Segment>> listed = ListSegments(fs, dir, /*remove_tmp=*/true, &stale);
  if (!listed.ok()) return listed.status();
  std::vector<Segment> segments = *std::move(listed);
  // Replay starts at the last segment (after any gap) whose first_index <= snapshot.index.
  size_t start = segments.size();
  for (size_t i = stale; i < segments.size(); ++i) {
    if (segments[i].first_index <= snapshot.index) start = i;
  }
  if (start == segments.size()) {
    if (stale > 0 && segments.front().first_index <= snapshot.index) {
      // The segment replay needs is there, but segments after it are missing.
      return absl::DataLossError(absl::StrCat("storage/wal: ", JoinPath(dir, segments[stale].name),
                                              ": segment sequence gap after ",
                                              segments[stale - 1].name));
    }
    return absl::NotFoundError(absl::StrFormat(
        "storage/wal: no segment in %s reaches back to snapshot index %d (oldest is %s)", dir,
        snapshot.index, segments[stale].name));
  }
  // The segments before `start` stay listed (never replayed): RemoveSegmentsBefore must
  // remove them too, oldest first, or removing newer ones would leave a gap behind them
  // (simulator seeds 4842 and 7592, with BUGGIFY's small segments: a restart opened at a
  // snapshot past the oldest segments, the next snapshot removed only the ones after
  // them, and the member refused to start again).
  std::unique_ptr<Wal> wal(new Wal(fs, std::string(dir), options, *std::move(lock)));
  wal->segments_ = std::move(segments);
  wal->replay_from_ = start;
  wal->open_snapshot_ = snapshot;
  return wal;
}

absl::StatusOr<WalContents> Wal::ReadAll() {
  if (replayed_) return absl::FailedPreconditionError("storage/wal: ReadAll only once, after Open");
  replayed_ = true;
  KEEL_CHECK(!segments_.empty());
  Replay replay;
  replay.from = open_snapshot_;
  replay.marker_found = open_snapshot_.index == 0;
  uint64_t valid_bytes = 0;
  for (size_t i = replay_from_; i < segments_.size(); ++i) {
    const Segment& segment = segments_[i];
    absl::Status s =
        ReplaySegment(fs_, PathOf(segment.name), ParsedName{segment.seq, segment.first_index},
                      i + 1 == segments_.size(), &replay, &valid_bytes);
    if (!s.ok()) return s;
  }
  if (!replay.marker_found) {
    return absl::NotFoundError(
        absl::StrFormat("storage/wal: %s: no marker for snapshot at index %d term %d", dir_,
                        open_snapshot_.index, open_snapshot_.term));
  }
  const std::string last_path = PathOf(segments_.back().name);
  absl::StatusOr<uint64_t> size_bytes = fs_->GetFileSize(last_path);
  if (!size_bytes.ok()) return size_bytes.status();
  KEEL_CHECK(valid_bytes <= *size_bytes);
  replay.contents.truncated_tail_bytes = *size_bytes - valid_bytes;
  if (valid_bytes < *size_bytes) {
    absl::Status s = fs_->Truncate(last_path, valid_bytes);
    if (!s.ok()) return s;
  }
  absl::StatusOr<std::unique_ptr<env::WritableFile>> file = fs_->NewAppendableFile(last_path);
  if (!file.ok()) return file.status();
  file_ = *std::move(file);
  file_size_bytes_ = valid_bytes;
  chain_crc_ = replay.chain_crc;
  metadata_ = replay.contents.metadata;
  hard_state_ = replay.contents.hard_state;
  snapshot_marker_ = replay.contents.latest_snapshot_marker;
  last_index_ = open_snapshot_.index + replay.contents.entries.size();
  appending_ = true;
  return std::move(replay.contents);
}

std::string Wal::EncodeSegmentHead(const Segment& segment) {
  std::string out(kWalMagic);
  std::string header;
  PutFixed64(&header, segment.seq);
  PutFixed64(&header, segment.first_index);
  PutFixed32(&header, chain_crc_);
  PutFixed32(&header, 0);
  PutFixed64(&header, 0);
  KEEL_CHECK(header.size() == kSegmentHeaderPayloadBytes);
  chain_crc_ = AppendRecord(RecordType::kSegmentHeader, header, chain_crc_, &out);
  chain_crc_ = AppendRecord(RecordType::kMetadata, metadata_, chain_crc_, &out);
  chain_crc_ =
      AppendRecord(RecordType::kHardState, hard_state_.SerializeAsString(), chain_crc_, &out);
  chain_crc_ =
      AppendRecord(RecordType::kSnapshotMarker, EncodeMarker(snapshot_marker_), chain_crc_, &out);
  return out;
}

absl::Status Wal::PublishPendingSegment() {
  KEEL_CHECK(pending_cut_.has_value());
  KEEL_CHECK(inflight_saves_ == 0);
  const Segment& segment = pending_cut_->segment;
  const std::string path = PathOf(segment.name);
  const std::string tmp_path = path + std::string(kTmpSuffix);
  absl::Status s = WriteFileSync(fs_, tmp_path, pending_cut_->header_bytes);
  if (s.ok()) s = fs_->Rename(tmp_path, path);
  if (s.ok()) s = fs_->SyncDir(dir_);
  if (!s.ok()) return s;
  absl::StatusOr<std::unique_ptr<env::WritableFile>> file = fs_->NewAppendableFile(path);
  if (!file.ok()) return file.status();
  file_ = *std::move(file);
  file_size_bytes_ = pending_cut_->header_bytes.size();
  segments_.push_back(segment);
  return absl::OkStatus();
}

absl::Status Wal::CheckWritable() const {
  if (!appending_) {
    return absl::FailedPreconditionError("storage/wal: not appending (call ReadAll first)");
  }
  if (!sticky_error_.ok()) return sticky_error_;
  if (pending_cut_.has_value() && pending_cut_->queue.size() >= options_.max_queued_saves) {
    return absl::ResourceExhaustedError(absl::StrFormat(
        "storage/wal: %d Saves already queued behind a segment cut", pending_cut_->queue.size()));
  }
  return absl::OkStatus();
}

void Wal::MaybeStartCut() {
  if (pending_cut_.has_value() || file_size_bytes_ < options_.segment_size_bytes) return;
  const uint64_t seq = segments_.back().seq + 1;
  const Segment segment{seq, last_index_ + 1, SegmentName(seq, last_index_ + 1)};
  pending_cut_ = PendingCut{segment, EncodeSegmentHead(segment), {}};
}

absl::Status Wal::Save(const raftpb::HardState& hs, absl::Span<const raftpb::Entry> entries,
                       env::StatusCallback done) {
  absl::Status s = CheckWritable();
  if (!s.ok()) return s;
  std::vector<std::string> payloads;
  payloads.reserve(entries.size());
  for (size_t i = 0; i < entries.size(); ++i) {
    const uint64_t index = entries[i].index();
    if (index == 0 || index != entries[0].index() + i || entries[0].index() > last_index_ + 1) {
      return absl::InvalidArgumentError(absl::StrFormat(
          "storage/wal: entry %d has index %d; entries must be contiguous from <= %d", i, index,
          last_index_ + 1));
    }
    payloads.push_back(entries[i].SerializeAsString());
    if (payloads.back().size() > kMaxRecordPayloadBytes) {
      return absl::InvalidArgumentError(
          absl::StrFormat("storage/wal: entry %d is %d bytes, over the record limit", index,
                          payloads.back().size()));
    }
  }
  MaybeStartCut();
  std::string bytes;
  for (const std::string& payload : payloads) {
    chain_crc_ = AppendRecord(RecordType::kEntry, payload, chain_crc_, &bytes);
  }
  if (!entries.empty()) last_index_ = entries.back().index();
  if (!IsEmptyHardState(hs)) {
    hard_state_ = hs;
    chain_crc_ = AppendRecord(RecordType::kHardState, hs.SerializeAsString(), chain_crc_, &bytes);
  }
  return Submit(std::move(bytes), std::move(done));
}

absl::Status Wal::SaveSnapshotMarker(WalSnapshot snapshot, env::StatusCallback done) {
  return SaveMarker(snapshot, /*installed=*/false, std::move(done));
}

absl::Status Wal::SaveInstalledSnapshotMarker(WalSnapshot snapshot, env::StatusCallback done) {
  return SaveMarker(snapshot, /*installed=*/true, std::move(done));
}

absl::Status Wal::SaveMarker(WalSnapshot snapshot, bool installed, env::StatusCallback done) {
  absl::Status s = CheckWritable();
  if (!s.ok()) return s;
  MaybeStartCut();
  std::string bytes;
  chain_crc_ = AppendRecord(RecordType::kSnapshotMarker, EncodeMarker(snapshot, installed),
                            chain_crc_, &bytes);
  // Segment heads repeat it without the installed flag (format.h).
  snapshot_marker_ = snapshot;
  // An installed snapshot replaced the whole log: the next entry follows it.
  last_index_ = installed ? snapshot.index : std::max(last_index_, snapshot.index);
  return Submit(std::move(bytes), std::move(done));
}

absl::Status Wal::Submit(std::string bytes, env::StatusCallback done) {
  if (pending_cut_.has_value()) {
    if (inflight_saves_ > 0) {
      pending_cut_->queue.push_back(QueuedSave{std::move(bytes), std::move(done)});
      return absl::OkStatus();
    }
    // Nothing in flight on the old segment (so nothing queued either): cut right here.
    KEEL_CHECK(pending_cut_->queue.empty());
    absl::Status s = PublishPendingSegment();
    pending_cut_.reset();
    if (!s.ok()) {
      Fail(s);
      return s;
    }
  }
  Issue(std::move(bytes), std::move(done));
  return absl::OkStatus();
}

void Wal::Issue(std::string bytes, env::StatusCallback done) {
  KEEL_CHECK(file_ != nullptr);
  KEEL_CHECK(file_size_bytes_ % kRecordAlignmentBytes == 0);
  ++inflight_saves_;
  file_size_bytes_ += bytes.size();
  // The append's outcome reaches `done` through the sync callback, which the FileSystem
  // runs after the append's (same file, issue order).
  auto append_status = std::make_shared<absl::Status>();
  file_->AppendAsync(std::move(bytes),
                     [append_status](absl::Status s) { *append_status = std::move(s); });
  file_->SyncAsync([self = std::weak_ptr<Wal*>(self_), append_status, bugs = options_.bugs,
                    done = std::move(done)](absl::Status s) mutable {
    // Bug-zoo site wal-ignore-fsync-error ("fsyncgate"): a failed fsync is swallowed and
    // the Save acknowledged as durable, although its bytes may be lost at the next crash.
    if (bugs.on(env::Bug::kWalIgnoreSyncError)) s = absl::OkStatus();
    absl::Status result = append_status->ok() ? std::move(s) : *append_status;
    std::shared_ptr<Wal*> wal = self.lock();
    if (wal == nullptr) {
      std::move(done)(std::move(result));
      return;
    }
    (*wal)->OnSaveComplete(std::move(result), std::move(done));
  });
}

void Wal::OnSaveComplete(absl::Status status, env::StatusCallback done) {
  KEEL_CHECK(inflight_saves_ > 0);
  --inflight_saves_;
  if (!status.ok()) Fail(status);
  std::vector<env::StatusCallback> failed;
  if (inflight_saves_ == 0 && pending_cut_.has_value()) failed = FinishCut();
  // `done` may destroy this Wal: touch no member after it.
  const absl::Status failure = sticky_error_;
  std::move(done)(std::move(status));
  for (env::StatusCallback& queued : failed) std::move(queued)(failure);
}

std::vector<env::StatusCallback> Wal::FinishCut() {
  KEEL_CHECK(pending_cut_.has_value() && inflight_saves_ == 0);
  absl::Status s = sticky_error_.ok() ? PublishPendingSegment() : sticky_error_;
  std::deque<QueuedSave> queue = std::move(pending_cut_->queue);
  pending_cut_.reset();
  std::vector<env::StatusCallback> failed;
  if (!s.ok()) {
    Fail(s);
    for (QueuedSave& save : queue) failed.push_back(std::move(save.done));
    return failed;
  }
  for (QueuedSave& save : queue) Issue(std::move(save.bytes), std::move(save.done));
  return failed;
}

void Wal::Fail(const absl::Status& status) {
  KEEL_CHECK(!status.ok());
  if (sticky_error_.ok()) sticky_error_ = status;
}

absl::Status Wal::RemoveSegmentsBefore(uint64_t index, size_t max_segments) {
  if (!appending_) return absl::FailedPreconditionError("storage/wal: not appending");
  size_t keep_from = 0;
  for (size_t i = 0; i < segments_.size(); ++i) {
    if (segments_[i].first_index <= index) keep_from = i;
  }
  // --max-wals: only the oldest ones beyond the limit (never one still needed: the bound
  // above is kept whatever the limit says).
  if (max_segments > 0) {
    keep_from = std::min(keep_from, segments_.size() > max_segments ? segments_.size() - max_segments : 0);
  }
  if (keep_from == 0) return absl::OkStatus();
  // keep_from <= segments_.size() - 1: the segment being appended is never removed.
  size_t removed = 0;
  absl::Status s;
  for (; removed < keep_from && s.ok(); ++removed) {
    s = fs_->RemoveFile(PathOf(segments_[removed].name));
    if (!s.ok()) break;
  }
  segments_.erase(segments_.begin(), segments_.begin() + removed);
  if (!s.ok()) return s;
  return fs_->SyncDir(dir_);
}

std::vector<std::string> Wal::SegmentNames() const {
  std::vector<std::string> names;
  for (const Segment& segment : segments_) names.push_back(segment.name);
  if (pending_cut_.has_value()) names.push_back(pending_cut_->segment.name);
  return names;
}

}  // namespace keel::storage
