// Seeded random mutations of valid encodings: the decoders must never crash,
// and whatever they accept must re-encode to exactly the bytes they read.
#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

#include "net/client_codec.h"
#include "net/frame.h"
#include "net/hello.h"
#include "net/message_codec.h"
#include "sample_client_messages.h"
#include "sample_messages.h"

namespace dengine::net {
namespace {

constexpr int kMutations = 50000;

std::string mutate(std::string bytes, std::mt19937_64* rng) {
  auto pick = [&](size_t n) {
    return std::uniform_int_distribution<size_t>(0, n)(*rng);
  };
  const int edits = 1 + static_cast<int>(pick(3));
  for (int i = 0; i < edits; ++i) {
    const size_t pos = pick(bytes.size());
    switch (pick(4)) {
      case 0:  // flip a bit
        if (pos < bytes.size()) bytes[pos] ^= static_cast<char>(1 << pick(7));
        break;
      case 1:  // overwrite a byte, favouring the extremes of a length field
        if (pos < bytes.size()) {
          bytes[pos] = static_cast<char>(pick(1) ? 0xFF : pick(255));
        }
        break;
      case 2:  // insert a byte
        bytes.insert(pos, 1, static_cast<char>(pick(255)));
        break;
      case 3:  // erase a run
        bytes.erase(pos, pick(8));
        break;
      default:  // truncate
        bytes.resize(pos);
        break;
    }
  }
  return bytes;
}

std::vector<std::string> message_seeds() {
  std::vector<std::string> out;
  for (const raft::Message& m : testing::all_full_messages()) {
    out.push_back(encode_message(m));
  }
  out.push_back(encode_message(raft::Message{}));
  return out;
}

TEST(CodecMutation, MessageDecoderSurvivesMutations) {
  const std::vector<std::string> seeds = message_seeds();
  std::mt19937_64 rng(20261127);
  int accepted = 0;
  for (int i = 0; i < kMutations; ++i) {
    const std::string input = mutate(seeds[rng() % seeds.size()], &rng);
    raft::Message m;
    if (decode_message(input, &m).empty()) {
      ++accepted;
      ASSERT_EQ(encode_message(m), input) << "mutation " << i;
    }
  }
  // Bit flips in integer fields keep a message valid: the check above ran.
  EXPECT_GT(accepted, 1000);
}

TEST(CodecMutation, HelloDecoderSurvivesMutations) {
  const std::string seed = encode_hello({2, 77});
  std::mt19937_64 rng(7);
  for (int i = 0; i < kMutations / 10; ++i) {
    const std::string input = mutate(seed, &rng);
    Hello hello;
    if (decode_hello(input, &hello).empty()) {
      ASSERT_EQ(encode_hello(hello), input) << "mutation " << i;
    }
  }
}

TEST(CodecMutation, ClientRequestDecoderSurvivesMutations) {
  std::vector<std::string> seeds;
  for (const ClientRequest& q : testing::all_client_requests()) {
    seeds.push_back(encode_client_request(q));
  }
  std::mt19937_64 rng(3);
  int accepted = 0;
  for (int i = 0; i < kMutations / 2; ++i) {
    const std::string input = mutate(seeds[rng() % seeds.size()], &rng);
    ClientRequest q;
    if (decode_client_request(input, &q).empty()) {
      ++accepted;
      ASSERT_EQ(encode_client_request(q), input) << "mutation " << i;
      validate_client_request(q);  // runs on whatever decodes, too
    }
  }
  EXPECT_GT(accepted, 1000);
}

TEST(CodecMutation, ClientResponseDecoderSurvivesMutations) {
  std::vector<std::string> seeds;
  for (const ClientResponse& p : testing::all_client_responses()) {
    seeds.push_back(encode_client_response(p));
  }
  std::mt19937_64 rng(5);
  int accepted = 0;
  for (int i = 0; i < kMutations / 2; ++i) {
    const std::string input = mutate(seeds[rng() % seeds.size()], &rng);
    ClientResponse p;
    if (decode_client_response(input, &p).empty()) {
      ++accepted;
      ASSERT_EQ(encode_client_response(p), input) << "mutation " << i;
    }
  }
  EXPECT_GT(accepted, 1000);
}

TEST(CodecMutation, FrameDecoderSurvivesMutations) {
  std::string stream;
  for (const std::string& payload : message_seeds()) {
    append_frame(&stream, FrameType::kRaftMessage, payload);
  }
  append_frame(&stream, FrameType::kHello, encode_hello({2, 77}));
  std::mt19937_64 rng(11);
  for (int i = 0; i < kMutations / 10; ++i) {
    const std::string input = mutate(stream, &rng);
    FrameDecoder decoder(/*max_payload=*/4096);
    // Fed in two pieces so that a cut also lands inside headers.
    const size_t cut = rng() % (input.size() + 1);
    decoder.feed(std::string_view(input).substr(0, cut));
    decoder.feed(std::string_view(input).substr(cut));
    std::string reencoded;
    while (auto frame = decoder.pop()) {
      append_frame(&reencoded, frame->type, frame->payload);
    }
    // Accepted frames are exactly the bytes they came from, in order.
    ASSERT_EQ(reencoded, input.substr(0, reencoded.size())) << "mutation " << i;
    if (!decoder.failed()) {
      ASSERT_EQ(reencoded.size() + decoder.buffered(), input.size());
    }
  }
}

}  // namespace
}  // namespace dengine::net
