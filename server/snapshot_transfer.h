// InstallSnapshot data, streamed: the leader dumps its backend into an image file
// (storage/backend_image.h) and sends it to one lagging follower in bounded chunks beside
// Raft's MsgSnap, as etcd streams its db file; the follower writes the chunks to a temp
// file, and only once it is complete, verified and durable steps the MsgSnap into Raft
// with the image's file name as the snapshot's data. Wire format: storage/format.h
// ("Snapshot transfer").
//
// Memory is bounded on both ends by one chunk (plus the writer's 1 MiB buffer while the
// leader dumps). Every failure (a lost, corrupt or stalled chunk, an unreachable peer, a
// receiver that restarted or gave up) ends the transfer with report(to, false) on the
// leader, so Raft leaves StateSnapshot and retries with a new MsgSnap; the receiver never
// publishes an image that did not verify, and removes its partial file.
//
// Single-threaded, on the member's Loop. Both classes are owned by ServerImpl.
#ifndef KEEL_SERVER_SNAPSHOT_TRANSFER_H_
#define KEEL_SERVER_SNAPSHOT_TRANSFER_H_

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "env/env.h"
#include "raft/raftpb/raft.pb.h"
#include "server/serverpb/internal.pb.h"
#include "storage/backend_image.h"
#include "storage/format.h"

namespace keel::server {

struct SnapshotTransferOptions {
  size_t chunk_bytes = storage::kImageChunkBytes;
  // Outgoing transfers at once (etcd bounds its snapshot senders too): each holds a dump
  // of the backend on disk. One more is refused at once (reported failed to Raft).
  size_t max_outgoing = 2;
  // No ack for this long fails the transfer (a dead or partitioned peer). Before that,
  // the chunk in flight is sent again every quarter of it: one lost chunk or ack costs a
  // resend, not the whole transfer (which, for an image of many chunks over a lossy
  // network, might otherwise never finish: simulator seed 2372 with 1 KiB chunks).
  int64_t stall_timeout_ns = int64_t{2'000'000'000};
  // The last chunk's ack comes after the receiver fsynced the whole image, so its wait
  // grows with the image: the stall timeout plus the image written at this floor rate
  // (FinalStallTimeoutNs). A fixed long wait made a lost one-chunk transfer, the common
  // small-cluster case, stall catch-up for 20 s (simulator seed 10342).
  int64_t sync_floor_bytes_per_s = int64_t{8} << 20;
};

// How long the sender waits for the ack of the last chunk of an image of `image_bytes`.
int64_t FinalStallTimeoutNs(const SnapshotTransferOptions& options, uint64_t image_bytes);

struct SnapshotTransferStats {
  uint64_t started = 0;
  uint64_t succeeded = 0;
  uint64_t failed = 0;
  uint64_t bytes_sent = 0;
  uint64_t chunks_resent = 0;
  uint64_t received = 0;  // images verified and handed to Raft
  uint64_t receive_failures = 0;
};

using PeerSendFn = std::function<void(uint64_t to, const serverpb::PeerMessage&)>;

class SnapshotSender {
 public:
  using ReportFn = std::function<void(uint64_t to, bool ok)>;
  using DumpFn = absl::FunctionRef<absl::Status(storage::BackendImageWriter*)>;

  SnapshotSender(env::Loop* loop, env::FileSystem* fs, std::string dir,
                 SnapshotTransferOptions options, PeerSendFn send, ReportFn report,
                 SnapshotTransferStats* stats);
  ~SnapshotSender();  // drops every transfer (no reports: the member is going away)
  SnapshotSender(const SnapshotSender&) = delete;
  SnapshotSender& operator=(const SnapshotSender&) = delete;

  // Streams the backend image `dump` writes to msg.to(), with `msg` (a MsgSnap carrying
  // metadata only). Reports exactly once, possibly before returning (refused: too many
  // transfers, one already running to that peer, or the dump failed).
  void Start(raftpb::Message msg, uint64_t transfer_id, DumpFn dump);
  void OnAck(uint64_t from, const serverpb::SnapshotChunkAck& ack);
  // The transport dropped a message to `peer`: a chunk may be lost, fail at once.
  void OnPeerUnreachable(uint64_t peer);
  size_t active() const { return transfers_.size(); }

 private:
  struct Transfer {
    uint64_t id = 0;
    uint64_t to = 0;
    raftpb::Message msg;
    std::string path;
    std::unique_ptr<env::SequentialFile> file;
    storage::BackendImageInfo info;
    uint64_t chunks = 0;    // total
    uint64_t next_seq = 0;  // the chunk in flight (stop-and-wait)
    serverpb::PeerMessage in_flight;  // that chunk, to send again
    int64_t sent_ns = 0;              // when it was first sent
    env::TimerId timer = 0;
  };
  void SendChunk(Transfer& t);
  // Resends the chunk in flight, or fails the transfer once it waited its whole timeout.
  void OnChunkTimer(uint64_t id);
  void ArmChunkTimer(Transfer& t);
  // How long the chunk in flight may wait for its ack from when it was first sent.
  int64_t ChunkTimeoutNs(const Transfer& t) const;
  void Finish(uint64_t id, bool ok);

  env::Loop* const loop_;
  env::FileSystem* const fs_;
  const std::string dir_;
  const SnapshotTransferOptions options_;
  const PeerSendFn send_;
  const ReportFn report_;
  SnapshotTransferStats* const stats_;
  std::map<uint64_t, Transfer> transfers_;  // by transfer id; size <= max_outgoing
};

class SnapshotReceiver {
 public:
  // Steps a verified MsgSnap (its snapshot.data = the image's file name) into Raft.
  using DeliverFn = std::function<void(raftpb::Message msg)>;

  SnapshotReceiver(env::Loop* loop, env::FileSystem* fs, std::string dir,
                   SnapshotTransferOptions options, PeerSendFn send, DeliverFn deliver,
                   SnapshotTransferStats* stats);
  ~SnapshotReceiver();  // abandons a transfer in progress (its temp file is removed)
  SnapshotReceiver(const SnapshotReceiver&) = delete;
  SnapshotReceiver& operator=(const SnapshotReceiver&) = delete;

  void OnChunk(uint64_t from, const serverpb::SnapshotChunk& chunk);
  bool receiving() const { return in_.has_value(); }

  // Start-up, once recovery no longer needs them: removes every transfer file of a
  // previous life (partial and outgoing .kimg.tmp files, received .kimg images).
  static absl::Status RemoveLeftovers(env::FileSystem* fs, std::string_view dir);
  // "%016x-%016x-%016x.kimg" (term, index, transfer id).
  static std::string ImageName(uint64_t term, uint64_t index, uint64_t transfer_id);

 private:
  struct Incoming {
    uint64_t from = 0;
    uint64_t id = 0;
    raftpb::Message msg;
    std::string name;  // published name; the temp file is name + ".tmp"
    std::unique_ptr<env::WritableFile> file;
    uint64_t next_seq = 0;
    uint64_t bytes = 0;
    uint32_t crc = 0;
    uint64_t total_bytes = 0;
    uint32_t total_crc = 0;
    env::TimerId idle = 0;
  };
  absl::Status Begin(uint64_t from, const serverpb::SnapshotChunk& chunk);
  absl::Status Append(const serverpb::SnapshotChunk& chunk);
  absl::Status Publish();
  void Ack(uint64_t to, uint64_t id, uint64_t next_seq, bool done, std::string error);
  void Abandon();
  void Fail(const absl::Status& why);
  void Remember(uint64_t id);

  env::Loop* const loop_;
  env::FileSystem* const fs_;
  const std::string dir_;
  const SnapshotTransferOptions options_;
  const PeerSendFn send_;
  const DeliverFn deliver_;
  SnapshotTransferStats* const stats_;
  std::optional<Incoming> in_;
  // Transfers that ended here, so a late duplicate of their chunk 0 does not restart
  // them (bounded: the last kRememberedTransfers).
  static constexpr size_t kRememberedTransfers = 16;
  std::deque<uint64_t> ended_;
};

}  // namespace keel::server

#endif  // KEEL_SERVER_SNAPSHOT_TRANSFER_H_
