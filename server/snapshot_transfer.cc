#include "server/snapshot_transfer.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_format.h"
#include "base/check.h"
#include "storage/file_util.h"
#include "storage/snapshot_file.h"

namespace keel::server {
namespace {

// A receiver refuses chunks far above what any sender of ours produces.
constexpr size_t kMaxChunkFactor = 4;

std::string TmpName(std::string_view name) {
  return std::string(name) + std::string(storage::kTmpSuffix);
}

}  // namespace

int64_t FinalStallTimeoutNs(const SnapshotTransferOptions& options, uint64_t image_bytes) {
  const int64_t floor = std::max<int64_t>(1, options.sync_floor_bytes_per_s);
  // Whole seconds first, so that a large image cannot overflow the product.
  const int64_t bytes = static_cast<int64_t>(image_bytes);
  const int64_t sync_ns = bytes / floor * 1'000'000'000 + bytes % floor * 1'000'000'000 / floor;
  return options.stall_timeout_ns + sync_ns;
}

// ---------------------------------------------------------------------------------------
// Sender (leader).
// ---------------------------------------------------------------------------------------

SnapshotSender::SnapshotSender(env::Loop* loop, env::FileSystem* fs, std::string dir,
                               SnapshotTransferOptions options, PeerSendFn send, ReportFn report,
                               SnapshotTransferStats* stats)
    : loop_(loop),
      fs_(fs),
      dir_(std::move(dir)),
      options_(options),
      send_(std::move(send)),
      report_(std::move(report)),
      stats_(stats) {
  KEEL_CHECK(options_.chunk_bytes > 0 && options_.max_outgoing > 0);
}

SnapshotSender::~SnapshotSender() {
  for (auto& [id, t] : transfers_) {
    if (t.timer != 0) loop_->Cancel(t.timer);
    t.file.reset();
    fs_->RemoveFile(t.path).IgnoreError();
  }
}

void SnapshotSender::Start(raftpb::Message msg, uint64_t transfer_id, DumpFn dump) {
  KEEL_CHECK(msg.type() == raftpb::MsgSnap);
  const uint64_t to = msg.to();
  bool busy = transfers_.size() >= options_.max_outgoing || transfers_.count(transfer_id) > 0;
  for (const auto& [id, t] : transfers_) busy |= t.to == to;
  if (busy) {
    // Raft tries again after the failure report; the running transfer to this peer (if
    // any) reports on its own.
    stats_->failed++;
    report_(to, false);
    return;
  }
  Transfer t;
  t.id = transfer_id;
  t.to = to;
  t.msg = std::move(msg);
  t.path = storage::JoinPath(
      dir_, absl::StrFormat("%s%016x%s%s", std::string(storage::kImageOutgoingPrefix),
                            transfer_id, std::string(storage::kImageSuffix),
                            std::string(storage::kTmpSuffix)));
  absl::StatusOr<storage::BackendImageInfo> info;
  {
    absl::StatusOr<std::unique_ptr<storage::BackendImageWriter>> writer =
        storage::BackendImageWriter::Create(fs_, t.path);
    if (!writer.ok()) {
      info = writer.status();
    } else {
      absl::Status dumped = dump(writer->get());
      info = dumped.ok() ? (*writer)->Finish() : absl::StatusOr<storage::BackendImageInfo>(dumped);
    }
  }
  absl::StatusOr<std::unique_ptr<env::SequentialFile>> file =
      info.ok() ? fs_->NewSequentialFile(t.path)
                : absl::StatusOr<std::unique_ptr<env::SequentialFile>>(info.status());
  if (!file.ok()) {
    fs_->RemoveFile(t.path).IgnoreError();
    stats_->failed++;
    report_(to, false);
    return;
  }
  t.file = *std::move(file);
  t.info = *info;
  t.chunks = std::max<uint64_t>(1, (t.info.size_bytes + options_.chunk_bytes - 1) / options_.chunk_bytes);
  stats_->started++;
  Transfer& placed = transfers_[transfer_id] = std::move(t);
  SendChunk(placed);
}

void SnapshotSender::SendChunk(Transfer& t) {
  serverpb::PeerMessage envelope;
  serverpb::SnapshotChunk* chunk = envelope.mutable_snapshot_chunk();
  chunk->set_transfer_id(t.id);
  chunk->set_seq(t.next_seq);
  std::string data;
  absl::Status read = t.file->Read(options_.chunk_bytes, &data);
  // The dump was verified when written; a short read now is a local disk problem.
  const uint64_t offset = t.next_seq * options_.chunk_bytes;
  const uint64_t expect = std::min<uint64_t>(options_.chunk_bytes, t.info.size_bytes - offset);
  if (!read.ok() || data.size() != expect) return Finish(t.id, false);
  chunk->set_crc(storage::ExtendCrc(0, data));
  chunk->set_data(std::move(data));
  chunk->set_last(t.next_seq + 1 == t.chunks);
  if (t.next_seq == 0) {
    *chunk->mutable_snap() = t.msg;
    chunk->set_total_bytes(t.info.size_bytes);
    chunk->set_total_crc(t.info.crc);
  }
  stats_->bytes_sent += expect;
  t.in_flight = std::move(envelope);
  t.sent_ns = loop_->NowNanos();
  ArmChunkTimer(t);
  send_(t.to, t.in_flight);
}

int64_t SnapshotSender::ChunkTimeoutNs(const Transfer& t) const {
  const bool last = t.next_seq + 1 == t.chunks;
  return last ? FinalStallTimeoutNs(options_, t.info.size_bytes) : options_.stall_timeout_ns;
}

void SnapshotSender::ArmChunkTimer(Transfer& t) {
  if (t.timer != 0) loop_->Cancel(t.timer);
  const int64_t deadline_ns = t.sent_ns + ChunkTimeoutNs(t);
  const int64_t resend_ns = std::max<int64_t>(1, options_.stall_timeout_ns / 4);
  const int64_t delay_ns = std::max<int64_t>(0, std::min(resend_ns, deadline_ns - loop_->NowNanos()));
  const uint64_t id = t.id;
  t.timer = loop_->RunAfter(delay_ns, [this, id]() mutable { OnChunkTimer(id); });
}

void SnapshotSender::OnChunkTimer(uint64_t id) {
  auto it = transfers_.find(id);
  if (it == transfers_.end()) return;
  Transfer& t = it->second;
  t.timer = 0;
  if (loop_->NowNanos() - t.sent_ns >= ChunkTimeoutNs(t)) return Finish(id, false);
  // Bounded: at most 4 resends per chunk before its timeout (more for a large last one).
  stats_->chunks_resent++;
  ArmChunkTimer(t);
  send_(t.to, t.in_flight);
}

void SnapshotSender::OnAck(uint64_t from, const serverpb::SnapshotChunkAck& ack) {
  auto it = transfers_.find(ack.transfer_id());
  if (it == transfers_.end() || it->second.to != from) return;  // an ended transfer
  Transfer& t = it->second;
  if (!ack.error().empty()) return Finish(t.id, false);
  if (ack.done()) return Finish(t.id, t.next_seq + 1 == t.chunks);
  // Stop-and-wait: only the ack of the chunk in flight moves us on; older ones are
  // duplicates.
  if (ack.next_seq() != t.next_seq + 1 || ack.next_seq() >= t.chunks) return;
  t.next_seq = ack.next_seq();
  SendChunk(t);
}

void SnapshotSender::OnPeerUnreachable(uint64_t peer) {
  std::vector<uint64_t> failed;
  for (const auto& [id, t] : transfers_) {
    if (t.to == peer) failed.push_back(id);
  }
  for (uint64_t id : failed) Finish(id, false);
}

void SnapshotSender::Finish(uint64_t id, bool ok) {
  auto it = transfers_.find(id);
  KEEL_CHECK(it != transfers_.end());
  Transfer t = std::move(it->second);
  transfers_.erase(it);
  if (t.timer != 0) loop_->Cancel(t.timer);
  t.file.reset();
  fs_->RemoveFile(t.path).IgnoreError();
  (ok ? stats_->succeeded : stats_->failed)++;
  report_(t.to, ok);
}

// ---------------------------------------------------------------------------------------
// Receiver (follower).
// ---------------------------------------------------------------------------------------

SnapshotReceiver::SnapshotReceiver(env::Loop* loop, env::FileSystem* fs, std::string dir,
                                   SnapshotTransferOptions options, PeerSendFn send,
                                   DeliverFn deliver, SnapshotTransferStats* stats)
    : loop_(loop),
      fs_(fs),
      dir_(std::move(dir)),
      options_(options),
      send_(std::move(send)),
      deliver_(std::move(deliver)),
      stats_(stats) {}

SnapshotReceiver::~SnapshotReceiver() { Abandon(); }

std::string SnapshotReceiver::ImageName(uint64_t term, uint64_t index, uint64_t transfer_id) {
  return absl::StrFormat("%016x-%016x-%016x%s", term, index, transfer_id,
                         std::string(storage::kImageSuffix));
}

absl::Status SnapshotReceiver::RemoveLeftovers(env::FileSystem* fs, std::string_view dir) {
  absl::Status s = storage::RemoveFilesWithSuffix(
      fs, dir, std::string(storage::kImageSuffix) + std::string(storage::kTmpSuffix));
  if (s.ok()) s = storage::RemoveFilesWithSuffix(fs, dir, storage::kImageSuffix);
  return s;
}

void SnapshotReceiver::Ack(uint64_t to, uint64_t id, uint64_t next_seq, bool done,
                           std::string error) {
  serverpb::PeerMessage envelope;
  serverpb::SnapshotChunkAck* ack = envelope.mutable_snapshot_ack();
  ack->set_transfer_id(id);
  ack->set_next_seq(next_seq);
  ack->set_done(done);
  ack->set_error(std::move(error));
  send_(to, envelope);
}

void SnapshotReceiver::Remember(uint64_t id) {
  ended_.push_back(id);
  if (ended_.size() > kRememberedTransfers) ended_.pop_front();
}

void SnapshotReceiver::Abandon() {
  if (!in_.has_value()) return;
  if (in_->idle != 0) loop_->Cancel(in_->idle);
  if (in_->file != nullptr) {
    in_->file->Close().IgnoreError();
    fs_->RemoveFile(storage::JoinPath(dir_, TmpName(in_->name))).IgnoreError();
  }
  Remember(in_->id);
  in_.reset();
}

void SnapshotReceiver::Fail(const absl::Status& why) {
  KEEL_CHECK(!why.ok() && in_.has_value());
  stats_->receive_failures++;
  const uint64_t from = in_->from;
  const uint64_t id = in_->id;
  const uint64_t next = in_->next_seq;
  Abandon();
  Ack(from, id, next, false, std::string(why.message()));
}

void SnapshotReceiver::OnChunk(uint64_t from, const serverpb::SnapshotChunk& chunk) {
  const uint64_t id = chunk.transfer_id();
  const bool current = in_.has_value() && in_->id == id && in_->from == from;
  if (!current) {
    if (std::find(ended_.begin(), ended_.end(), id) != ended_.end()) return;  // late duplicate
    if (chunk.seq() != 0) {
      // We do not (or no longer) hold this transfer: a restart or a newer one replaced
      // it. Tell the sender to stop rather than let it wait for its timeout.
      Ack(from, id, 0, false, "snapshot transfer unknown to the receiver");
      return;
    }
    // A newer transfer replaces whatever was in progress (one at a time bounds disk use).
    Abandon();
    absl::Status begun = Begin(from, chunk);
    if (!begun.ok()) {
      if (in_.has_value()) return Fail(begun);
      stats_->receive_failures++;
      return Ack(from, id, 0, false, std::string(begun.message()));
    }
  } else if (chunk.seq() < in_->next_seq) {
    return Ack(from, id, in_->next_seq, false, "");  // a duplicate: repeat where we are
  }
  if (chunk.seq() != in_->next_seq) {
    return Fail(absl::DataLossError(absl::StrFormat(
        "snapshot chunk %d arrived while expecting %d", chunk.seq(), in_->next_seq)));
  }
  absl::Status appended = Append(chunk);
  if (!appended.ok()) return Fail(appended);
  if (!chunk.last()) return Ack(from, id, in_->next_seq, false, "");
  absl::Status published = Publish();
  if (!published.ok()) return Fail(published);
  raftpb::Message msg = std::move(in_->msg);
  msg.mutable_snapshot()->set_data(in_->name);
  if (in_->idle != 0) loop_->Cancel(in_->idle);
  Remember(id);
  in_.reset();
  stats_->received++;
  Ack(from, id, chunk.seq() + 1, true, "");
  deliver_(std::move(msg));
}

absl::Status SnapshotReceiver::Begin(uint64_t from, const serverpb::SnapshotChunk& chunk) {
  KEEL_CHECK(!in_.has_value());
  const raftpb::Message& msg = chunk.snap();
  if (msg.type() != raftpb::MsgSnap || msg.from() != from || !msg.has_snapshot() ||
      chunk.total_bytes() < storage::kImageMagic.size() + storage::kImageTrailerBytes) {
    return absl::InvalidArgumentError("malformed first snapshot chunk");
  }
  Incoming in;
  in.from = from;
  in.id = chunk.transfer_id();
  in.msg = msg;
  in.name = ImageName(msg.snapshot().metadata().term(), msg.snapshot().metadata().index(), in.id);
  in.total_bytes = chunk.total_bytes();
  in.total_crc = chunk.total_crc();
  absl::StatusOr<std::unique_ptr<env::WritableFile>> file =
      fs_->NewWritableFile(storage::JoinPath(dir_, TmpName(in.name)));
  if (!file.ok()) return file.status();
  in.file = *std::move(file);
  in_ = std::move(in);
  return absl::OkStatus();
}

absl::Status SnapshotReceiver::Append(const serverpb::SnapshotChunk& chunk) {
  Incoming& in = *in_;
  const std::string& data = chunk.data();
  if (data.empty() || data.size() > kMaxChunkFactor * options_.chunk_bytes) {
    return absl::DataLossError(absl::StrFormat("snapshot chunk %d has %d bytes", chunk.seq(), data.size()));
  }
  if (storage::ExtendCrc(0, data) != chunk.crc()) {
    return absl::DataLossError(absl::StrFormat("snapshot chunk %d: checksum mismatch", chunk.seq()));
  }
  if (data.size() > in.total_bytes - in.bytes) {
    return absl::DataLossError("snapshot transfer longer than announced");
  }
  absl::Status s = in.file->Append(data);
  if (!s.ok()) return s;
  in.crc = storage::ExtendCrc(in.crc, data);
  in.bytes += data.size();
  in.next_seq++;
  // A sender that goes silent (crashed, partitioned) must not pin the temp file forever.
  if (in.idle != 0) loop_->Cancel(in.idle);
  in.idle = loop_->RunAfter(2 * FinalStallTimeoutNs(options_, in.total_bytes), [this, id = in.id]() mutable {
    if (!in_.has_value() || in_->id != id) return;
    in_->idle = 0;
    stats_->receive_failures++;
    Abandon();
  });
  return absl::OkStatus();
}

absl::Status SnapshotReceiver::Publish() {
  Incoming& in = *in_;
  if (in.bytes != in.total_bytes || in.crc != in.total_crc) {
    return absl::DataLossError(absl::StrFormat(
        "snapshot transfer ended with %d of %d bytes or a checksum mismatch", in.bytes,
        in.total_bytes));
  }
  absl::Status s = in.file->Sync();
  absl::Status closed = in.file->Close();
  in.file.reset();
  const std::string tmp = storage::JoinPath(dir_, TmpName(in.name));
  if (s.ok()) s = closed;
  if (s.ok()) s = fs_->Rename(tmp, storage::JoinPath(dir_, in.name));
  if (s.ok()) s = fs_->SyncDir(dir_);
  if (!s.ok()) fs_->RemoveFile(tmp).IgnoreError();
  return s;
}

}  // namespace keel::server
