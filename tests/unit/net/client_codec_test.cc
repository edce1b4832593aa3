#include "net/client_codec.h"

#include <gtest/gtest.h>

#include <string>

#include "base/byte_codec.h"
#include "sample_client_messages.h"

namespace dengine::net {
namespace {

using testing::all_client_requests;
using testing::all_client_responses;
using testing::full_request;

// Offsets in an encoded request and response (docs/client-protocol.md).
constexpr size_t kRequestOpOffset = 9;
constexpr size_t kRequestFlagsOffset = 10;
constexpr size_t kRequestConsistencyOffset = 11;
constexpr size_t kRequestBodyOffset = 16;  // without a session
constexpr size_t kResponseStatusOffset = 9;
constexpr size_t kResponseFlagsOffset = 13;

std::string request_error(const std::string& payload) {
  ClientRequest q;
  return decode_client_request(payload, &q);
}

std::string response_error(const std::string& payload) {
  ClientResponse p;
  return decode_client_response(payload, &p);
}

TEST(ClientCodec, RoundTripsEveryRequest) {
  for (const ClientRequest& request : all_client_requests()) {
    SCOPED_TRACE(to_string(request.op));
    EXPECT_EQ(validate_client_request(request), "");
    const std::string payload = encode_client_request(request);
    ClientRequest got;
    ASSERT_EQ(decode_client_request(payload, &got), "");
    EXPECT_EQ(got, request);
    EXPECT_EQ(encode_client_request(got), payload);
  }
}

TEST(ClientCodec, RoundTripsEveryResponse) {
  for (const ClientResponse& response : all_client_responses()) {
    SCOPED_TRACE(response.request_id);
    const std::string payload = encode_client_response(response);
    ClientResponse got;
    ASSERT_EQ(decode_client_response(payload, &got), "");
    EXPECT_EQ(got, response);
    EXPECT_EQ(encode_client_response(got), payload);
  }
}

TEST(ClientCodec, EncodesOnlyTheFieldsOfTheOp) {
  ClientRequest status = full_request(ClientOp::kStatus);
  status.key = "ignored";
  status.keys = {"ignored"};
  ClientRequest got;
  ASSERT_EQ(decode_client_request(encode_client_request(status), &got), "");
  EXPECT_EQ(got, full_request(ClientOp::kStatus));
  EXPECT_EQ(encode_client_request(got).size(), kRequestBodyOffset);
}

TEST(ClientCodec, OpenSessionIsAHeaderAndItsAnswerCarriesTheId) {
  const ClientRequest open = full_request(ClientOp::kOpenSession);
  const std::string payload = encode_client_request(open);
  EXPECT_EQ(payload.size(), kRequestBodyOffset);
  EXPECT_EQ(static_cast<uint8_t>(payload[kRequestOpOffset]), 17);
  ClientRequest got;
  ASSERT_EQ(decode_client_request(payload, &got), "");
  EXPECT_EQ(got, open);
  EXPECT_EQ(std::string(to_string(got.op)), "open-session");
  // It is not a write: it carries no session of its own.
  EXPECT_FALSE(is_session_write(ClientOp::kOpenSession));
  ClientRequest with_session = open;
  with_session.session = ClientSession{1, 1, 0};
  EXPECT_EQ(validate_client_request(with_session),
            "open-session: a session on a non-write");

  ClientResponse answer;
  answer.request_id = open.request_id;
  answer.index = 0xFEDCBA9876543210ull;
  ClientResponse decoded;
  ASSERT_EQ(decode_client_response(encode_client_response(answer), &decoded),
            "");
  EXPECT_EQ(decoded, answer);
  EXPECT_EQ(decoded.index, 0xFEDCBA9876543210ull);
}

TEST(ClientCodec, RejectsEveryTruncation) {
  for (const ClientRequest& request : all_client_requests()) {
    const std::string payload = encode_client_request(request);
    for (size_t n = 0; n < payload.size(); ++n) {
      EXPECT_NE(request_error(payload.substr(0, n)), "")
          << to_string(request.op) << " cut at " << n;
    }
  }
  for (const ClientResponse& response : all_client_responses()) {
    const std::string payload = encode_client_response(response);
    for (size_t n = 0; n < payload.size(); ++n) {
      EXPECT_NE(response_error(payload.substr(0, n)), "")
          << response.request_id << " cut at " << n;
    }
  }
}

TEST(ClientCodec, RejectsTrailingBytes) {
  const std::string request =
      encode_client_request(full_request(ClientOp::kGet));
  EXPECT_EQ(request_error(request + "x"), "client request: 1 trailing bytes");
  const std::string response = encode_client_response(ClientResponse{});
  EXPECT_EQ(response_error(response + "xy"),
            "client response: 2 trailing bytes");
}

TEST(ClientCodec, RejectsAnotherProtocolVersion) {
  std::string request = encode_client_request(full_request(ClientOp::kGet));
  request[0] = 2;
  EXPECT_EQ(request_error(request),
            "client request: unsupported protocol version 2 (this side "
            "speaks 1)");
  std::string response = encode_client_response(ClientResponse{});
  response[0] = 0;
  EXPECT_NE(response_error(response).find("unsupported protocol version 0"),
            std::string::npos);
  EXPECT_EQ(request_error(""), "client request: empty");
}

TEST(ClientCodec, RejectsUnknownEnumValuesAndFlags) {
  const std::string status =
      encode_client_request(full_request(ClientOp::kStatus));
  std::string bad = status;
  bad[kRequestOpOffset] = 0;
  EXPECT_EQ(request_error(bad), "client request: unknown op 0");
  bad[kRequestOpOffset] = testing::kClientOpCount + 1;
  EXPECT_EQ(request_error(bad),
            "client request: unknown op " +
                std::to_string(testing::kClientOpCount + 1));
  bad = status;
  bad[kRequestFlagsOffset] = 4;
  EXPECT_EQ(request_error(bad), "client request: unknown flags 4");
  bad[kRequestFlagsOffset] = 2;  // KV: only on propose and read
  EXPECT_EQ(request_error(bad),
            "client request: the KV flag on an op other than propose or read");
  bad = status;
  bad[kRequestConsistencyOffset] = 4;
  EXPECT_EQ(request_error(bad), "client request: unknown read consistency 4");

  std::string response = encode_client_response(ClientResponse{});
  response[kResponseFlagsOffset] = 64;
  EXPECT_EQ(response_error(response), "client response: unknown flags 64");
}

TEST(ClientCodec, WatchRequestsCarryTheirStreamFlagsAndRevisions) {
  ClientRequest q = full_request(ClientOp::kWatch);
  std::string payload = encode_client_request(q);
  // The body: stream u8, flags u8, key, start revision u64, max lag u64.
  ASSERT_EQ(payload.size(), kRequestBodyOffset + 2 + 4 + q.key.size() + 16);
  std::string bad = payload;
  bad[kRequestBodyOffset] = 0;
  EXPECT_EQ(request_error(bad), "client request: unknown watch stream 0");
  bad[kRequestBodyOffset] = 4;
  EXPECT_EQ(request_error(bad), "client request: unknown watch stream 4");
  bad = payload;
  bad[kRequestBodyOffset + 1] = 2;
  EXPECT_EQ(request_error(bad), "client request: unknown watch flags 2");
  bad = payload;
  bad.pop_back();
  EXPECT_EQ(request_error(bad), "client request: watch fields malformed");
  // A session or a read consistency on a watch is an argument error.
  q.session = ClientSession{1, 1, 0};
  EXPECT_EQ(validate_client_request(q), "watch: a session on a non-write");
  q.session.reset();
  q.consistency = ReadConsistency::kLinearizable;
  EXPECT_EQ(validate_client_request(q),
            "watch: a read consistency on a non-read");
}

TEST(ClientCodec, ValidatesWatchKeys) {
  ClientRequest q = full_request(ClientOp::kWatch);
  q.key.clear();  // an empty prefix: every key
  EXPECT_EQ(validate_client_request(q), "");
  q.is_prefix = false;
  EXPECT_EQ(validate_client_request(q),
            "watch: empty key (an empty prefix watches every key)");
  q.stream = watch::Stream::kTopic;
  EXPECT_EQ(validate_client_request(q),
            "watch: empty key (an empty prefix watches every key)");
  q.stream = watch::Stream::kCluster;
  EXPECT_EQ(validate_client_request(q), "");
  q.key = "x";
  EXPECT_EQ(validate_client_request(q),
            "watch: a key or prefix on the cluster stream");
  q.key.clear();
  q.is_prefix = true;
  EXPECT_EQ(validate_client_request(q),
            "watch: a key or prefix on the cluster stream");
}

TEST(ClientCodec, RejectsMalformedEvents) {
  ClientResponse batch;
  watch::Event leader;
  leader.revision = 5;
  leader.type = watch::EventType::kLeader;
  leader.node_id = 1;
  leader.term = 2;
  batch.events.push_back(leader);
  const std::string payload = encode_client_response(batch);
  // The event is last: type at 38 bytes from the end (revision before it).
  const size_t type_offset = payload.size() - (1 + 4 + 4 + 1 + 8 + 8 + 4);
  std::string bad = payload;
  bad[type_offset] = 0;
  EXPECT_EQ(response_error(bad), "client response: unknown event type 0");
  bad[type_offset] = 9;
  EXPECT_EQ(response_error(bad), "client response: unknown event type 9");
  bad = payload;
  bad[type_offset + 9] = 2;  // has-previous, after type, key and value
  EXPECT_EQ(response_error(bad), "client response: event malformed");
  // The events flag with a count of 0 is not canonical.
  bad = encode_client_response(ClientResponse{});
  bad[kResponseFlagsOffset] = 32;
  base::ByteWriter(&bad).u32(0);
  EXPECT_EQ(response_error(bad),
            "client response: the events flag with no events");
  bad = encode_client_response(ClientResponse{});
  bad[kResponseFlagsOffset] = 32;
  base::ByteWriter(&bad).u32(2);
  EXPECT_EQ(response_error(bad),
            "client response: event count 2 exceeds the remaining bytes");
}

TEST(ClientCodec, RejectsBooleansOtherThanZeroOrOne) {
  ClientRequest cas = full_request(ClientOp::kCompareAndSwap);
  cas.session.reset();
  std::string payload = encode_client_request(cas);
  // The presence byte of `expected` follows the key (length 4, "k").
  payload[kRequestBodyOffset + 5] = 2;
  EXPECT_EQ(request_error(payload),
            "client request: compare-and-swap fields malformed");

  ClientResponse values;
  values.values = {std::nullopt};
  payload = encode_client_response(values);
  // The value's presence byte, before the entry count.
  payload[payload.size() - 5] = 2;
  EXPECT_EQ(response_error(payload), "client response: value malformed");

  ClientResponse status;
  status.node_status = testing::full_node_status();
  payload = encode_client_response(status);
  payload.back() = 2;  // the last member's voter byte
  EXPECT_EQ(response_error(payload), "client response: member malformed");
}

TEST(ClientCodec, RejectsAPositiveStatus) {
  ClientResponse response;
  response.status = 1;
  EXPECT_EQ(response_error(encode_client_response(response)),
            "client response: positive status 1");
  response.status = -11;
  EXPECT_EQ(response_error(encode_client_response(response)), "");
}

TEST(ClientCodec, RejectsCountsBeyondTheBytesPresent) {
  ClientRequest multi = full_request(ClientOp::kGetMulti);
  multi.session.reset();
  multi.consistency = ReadConsistency::kDefault;
  std::string payload = encode_client_request(multi);
  payload.resize(kRequestBodyOffset);
  base::ByteWriter(&payload).u32(0xFFFFFFFF);
  EXPECT_EQ(request_error(payload),
            "client request: key count 4294967295 exceeds the remaining bytes");

  ClientResponse status;
  status.node_status = testing::full_node_status();
  status.node_status->members.clear();
  payload = encode_client_response(status);
  payload.resize(payload.size() - 4);
  base::ByteWriter(&payload).u32(1);  // one member, with no bytes for it
  EXPECT_EQ(response_error(payload),
            "client response: member count 1 exceeds the remaining bytes");

  payload = encode_client_response(ClientResponse{});
  payload.resize(payload.size() - 8);
  base::ByteWriter(&payload).u32(5);  // five values in four bytes
  base::ByteWriter(&payload).u32(0);
  EXPECT_EQ(response_error(payload),
            "client response: value count 5 exceeds the remaining bytes");
}

TEST(ClientCodec, LeavesTheOutputAloneOnFailure) {
  const ClientRequest before = full_request(ClientOp::kPut);
  ClientRequest q = before;
  EXPECT_NE(decode_client_request("\x01", &q), "");
  EXPECT_EQ(q, before);
  ClientResponse p;
  p.message = "kept";
  EXPECT_NE(decode_client_response("\x01", &p), "");
  EXPECT_EQ(p.message, "kept");
  EXPECT_EQ(response_error(std::string(1, '\x01') +
                           std::string(kResponseStatusOffset, '\0')),
            "client response: fields truncated");
}

TEST(ClientCodec, ValidatesSessions) {
  ClientRequest put = full_request(ClientOp::kPut);
  put.session->client_id = 0;
  EXPECT_EQ(validate_client_request(put), "put: session client id 0");
  put = full_request(ClientOp::kPut);
  put.session->seq = 0;
  put.session->acked_seq = 0;
  EXPECT_EQ(validate_client_request(put), "put: session seq 0");
  put = full_request(ClientOp::kPut);
  put.session->acked_seq = put.session->seq;
  EXPECT_EQ(validate_client_request(put),
            "put: session acked seq 12 not below seq 12");
  ClientRequest get = full_request(ClientOp::kGet);
  get.session = ClientSession{1, 1, 0};
  EXPECT_EQ(validate_client_request(get), "get: a session on a non-write");
  // A write without a session is allowed: it is then at-least-once.
  put.session.reset();
  EXPECT_EQ(validate_client_request(put), "");
}

TEST(ClientCodec, ValidatesArguments) {
  auto error_with = [](ClientOp op, auto change) {
    ClientRequest q = full_request(op);
    change(q);
    return validate_client_request(q);
  };
  EXPECT_EQ(error_with(ClientOp::kPut,
                       [](ClientRequest& q) {
                         q.consistency = ReadConsistency::kEventual;
                       }),
            "put: a read consistency on a non-read");
  for (ClientOp op : {ClientOp::kPut, ClientOp::kPutWithTtl, ClientOp::kDelete,
                      ClientOp::kCompareAndSwap, ClientOp::kGet}) {
    EXPECT_EQ(error_with(op, [](ClientRequest& q) { q.key.clear(); }),
              std::string(to_string(op)) + ": empty key");
  }
  EXPECT_EQ(
      error_with(ClientOp::kPutWithTtl, [](ClientRequest& q) { q.ttl_ms = 0; }),
      "put-with-ttl: ttl 0");
  EXPECT_EQ(
      error_with(ClientOp::kGetMulti, [](ClientRequest& q) { q.keys.clear(); }),
      "get-multi: no keys");
  EXPECT_EQ(error_with(ClientOp::kGetMulti,
                       [](ClientRequest& q) { q.keys.push_back(""); }),
            "get-multi: empty key");
  EXPECT_EQ(
      error_with(ClientOp::kScanPrefix, [](ClientRequest& q) { q.limit = 0; }),
      "scan-prefix: limit 0");
  EXPECT_EQ(error_with(ClientOp::kAddLearner,
                       [](ClientRequest& q) { q.address.clear(); }),
            "add-learner: empty address");
  for (ClientOp op :
       {ClientOp::kAddLearner, ClientOp::kPromote, ClientOp::kRemoveNode}) {
    EXPECT_EQ(error_with(op, [](ClientRequest& q) { q.node_id = 0; }),
              std::string(to_string(op)) + ": node id 0");
  }
  // Transfer to node 0 means "to any voter"; a scan prefix may be empty.
  EXPECT_EQ(error_with(ClientOp::kTransferLeader,
                       [](ClientRequest& q) { q.node_id = 0; }),
            "");
  EXPECT_EQ(error_with(ClientOp::kScanPrefix,
                       [](ClientRequest& q) { q.prefix.clear(); }),
            "");
}

TEST(ClientCodec, ClassifiesOps) {
  int writes = 0;
  int reads = 0;
  for (uint8_t op = 1; op <= testing::kClientOpCount; ++op) {
    const ClientOp o = static_cast<ClientOp>(op);
    EXPECT_STRNE(to_string(o), "unknown");
    EXPECT_FALSE(is_session_write(o) && is_consistent_read(o));
    writes += is_session_write(o);
    reads += is_consistent_read(o);
  }
  EXPECT_EQ(writes, 5);
  EXPECT_EQ(reads, 4);
}

}  // namespace
}  // namespace dengine::net
