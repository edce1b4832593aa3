// The node status in a status answer: the role travels as one byte, its
// DENGINE_ROLE_* value, and a byte naming no role is refused.
#include <gtest/gtest.h>

#include <cstddef>
#include <string>

#include "dengine.h"
#include "net/client_codec.h"
#include "sample_client_messages.h"

namespace dengine::net {
namespace {

ClientResponse status_answer(raft::Role role) {
  ClientResponse response;
  response.request_id = 7;
  response.node_status = testing::full_node_status();
  response.node_status->role = role;
  return response;
}

// Where the role byte lies: the one byte in which a follower's and a
// leader's answers differ.
size_t role_offset() {
  const std::string follower =
      encode_client_response(status_answer(raft::Role::kFollower));
  const std::string leader =
      encode_client_response(status_answer(raft::Role::kLeader));
  EXPECT_EQ(follower.size(), leader.size());
  size_t offset = follower.size();
  for (size_t k = 0; k < follower.size(); ++k) {
    if (follower[k] == leader[k]) continue;
    EXPECT_EQ(offset, follower.size()) << "a second byte differs at " << k;
    offset = k;
  }
  EXPECT_LT(offset, follower.size());
  return offset;
}

TEST(ClientStatusCodec, TheRoleIsOneByteHoldingItsCValue) {
  const size_t offset = role_offset();
  const struct {
    raft::Role role;
    int c_value;
  } roles[] = {{raft::Role::kFollower, DENGINE_ROLE_FOLLOWER},
               {raft::Role::kPreCandidate, DENGINE_ROLE_PRE_CANDIDATE},
               {raft::Role::kCandidate, DENGINE_ROLE_CANDIDATE},
               {raft::Role::kLeader, DENGINE_ROLE_LEADER}};
  for (const auto& [role, c_value] : roles) {
    SCOPED_TRACE(raft::to_string(role));
    const ClientResponse sent = status_answer(role);
    const std::string payload = encode_client_response(sent);
    ASSERT_LT(offset, payload.size());
    EXPECT_EQ(static_cast<unsigned char>(payload[offset]), c_value);
    ClientResponse got;
    ASSERT_EQ(decode_client_response(payload, &got), "");
    EXPECT_EQ(got, sent);
  }
}

TEST(ClientStatusCodec, RefusesAByteNamingNoRole) {
  const size_t offset = role_offset();
  std::string payload =
      encode_client_response(status_answer(raft::Role::kLeader));
  ASSERT_LT(offset, payload.size());
  payload[offset] = static_cast<char>(DENGINE_ROLE_LEADER + 1);
  ClientResponse got;
  EXPECT_EQ(decode_client_response(payload, &got),
            "client response: unknown role 4");
}

}  // namespace
}  // namespace dengine::net
