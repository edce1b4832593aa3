#include "testkit/log_store_suite.h"

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <limits>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <utility>

namespace dengine::testkit {

namespace {

using raft::Entry;
using raft::EntryType;
using raft::HardState;
using raft::Index;
using raft::Term;
using storage::HardStateStore;
using storage::LogStore;
using storage::Status;
using storage::StatusCode;

constexpr uint64_t kNoLimit = std::numeric_limits<uint64_t>::max();

std::string fail(int line, const std::string& what) {
  return "log_store_suite.cc:" + std::to_string(line) + ": " + what;
}

template <typename T>
std::string show(const T& value) {
  return std::to_string(value);
}

// Each check returns the failure message from the case.
#define SUITE_CHECK(cond) \
  if (!(cond)) return fail(__LINE__, "check failed: " #cond)
#define SUITE_CHECK_OK(expr)                                     \
  do {                                                           \
    const Status status_ = (expr);                               \
    if (!status_.is_ok()) {                                      \
      return fail(__LINE__, #expr " -> " + status_.to_string()); \
    }                                                            \
  } while (0)
#define SUITE_CHECK_CODE(expr, expected)                                       \
  do {                                                                         \
    const Status status_ = (expr);                                             \
    if (status_.code() != (expected)) {                                        \
      return fail(__LINE__, #expr " -> " + status_.to_string() +               \
                                ", expected " + storage::to_string(expected)); \
    }                                                                          \
  } while (0)
#define SUITE_CHECK_EQ(a, b)                                                   \
  do {                                                                         \
    const auto a_ = (a);                                                       \
    const auto b_ = (b);                                                       \
    if (!(a_ == b_)) {                                                         \
      return fail(__LINE__, #a " == " #b ": " + show(a_) + " vs " + show(b_)); \
    }                                                                          \
  } while (0)
#define SUITE_RUN(expr)                     \
  do {                                      \
    std::string message_ = (expr);          \
    if (!message_.empty()) return message_; \
  } while (0)

// Deterministic contents, so a reader can tell a right entry from a wrong
// one by looking at it alone.
std::string payload(Index index, Term term, size_t size) {
  std::string data(size, static_cast<char>('a' + (index * 7 + term) % 26));
  const std::string tag = std::to_string(index) + "/" + std::to_string(term);
  std::copy_n(tag.begin(), std::min(tag.size(), size), data.begin());
  return data;
}

Entry make_entry(Index index, Term term, size_t size = 24) {
  return Entry{term, index, EntryType::kNormal, payload(index, term, size)};
}

std::vector<Entry> make_entries(Index first, Index last, Term term,
                                size_t size = 24) {
  std::vector<Entry> entries;
  for (Index i = first; i <= last; ++i) {
    entries.push_back(make_entry(i, term, size));
  }
  return entries;
}

// What the store should hold, maintained beside it.
struct Model {
  Index first = 1;
  Term purge_term = 0;  // term at first - 1
  std::vector<Entry> entries;

  Index last() const { return first - 1 + entries.size(); }
  void append(const std::vector<Entry>& batch) {
    if (batch.empty()) return;
    entries.resize(batch.front().index - first);
    entries.insert(entries.end(), batch.begin(), batch.end());
  }
  void truncate(Index index) {
    if (index <= last()) entries.resize(index - first);
  }
  void purge(Index index) {
    if (index < first) return;
    purge_term = entries[index - first].term;
    entries.erase(entries.begin(), entries.begin() + (index - first + 1));
    first = index + 1;
  }
  void reset(Index index, Term term) {
    entries.clear();
    first = index + 1;
    purge_term = term;
  }
};

// Compares everything observable with the model.
std::string check_matches(const LogStore& store, const Model& model) {
  SUITE_CHECK_EQ(store.first_index(), model.first);
  SUITE_CHECK_EQ(store.last_index(), model.last());
  SUITE_CHECK(store.durable_index() <= store.last_index());
  Term term = 0;
  SUITE_CHECK_OK(store.term(model.first - 1, &term));
  SUITE_CHECK_EQ(term, model.purge_term);
  if (model.first >= 2) {
    SUITE_CHECK_CODE(store.term(model.first - 2, &term),
                     StatusCode::kCompacted);
    std::vector<Entry> out;
    SUITE_CHECK_CODE(
        store.entries(model.first - 1, model.first, kNoLimit, &out),
        StatusCode::kCompacted);
  }
  SUITE_CHECK_CODE(store.term(model.last() + 1, &term),
                   StatusCode::kUnavailable);
  for (const Entry& e : model.entries) {
    SUITE_CHECK_OK(store.term(e.index, &term));
    if (term != e.term) {
      return fail(__LINE__, "term(" + show(e.index) + ") = " + show(term) +
                                ", expected " + show(e.term));
    }
  }
  std::vector<Entry> out;
  SUITE_CHECK_OK(store.entries(model.first, model.last() + 1, kNoLimit, &out));
  SUITE_CHECK_EQ(out.size(), model.entries.size());
  for (size_t i = 0; i < out.size(); ++i) {
    if (!(out[i] == model.entries[i])) {
      return fail(__LINE__, "entry " + show(model.entries[i].index) +
                                " differs from what was appended");
    }
  }
  return "";
}

std::string open_store(LogStoreFactory& factory,
                       std::unique_ptr<LogStore>* store) {
  SUITE_CHECK_OK(factory.open(store));
  SUITE_CHECK(*store != nullptr);
  return "";
}

// close() (which syncs), then open again at the same location.
std::string reopen(LogStoreFactory& factory, std::unique_ptr<LogStore>* store) {
  SUITE_CHECK_OK((*store)->close());
  store->reset();
  return open_store(factory, store);
}

// After a reopen everything held counts as durable.
std::string check_reopened(LogStoreFactory& factory,
                           std::unique_ptr<LogStore>* store,
                           const Model& model) {
  SUITE_RUN(reopen(factory, store));
  SUITE_RUN(check_matches(**store, model));
  SUITE_CHECK_EQ((*store)->durable_index(), (*store)->last_index());
  return "";
}

// Appends to the store and the model.
std::string append(LogStore& store, Model& model,
                   const std::vector<Entry>& batch) {
  SUITE_CHECK_OK(store.append(batch));
  model.append(batch);
  return "";
}

// Fresh store holding entries 1..last in `term`.
std::string open_with(LogStoreFactory& factory,
                      std::unique_ptr<LogStore>* store, Model* model,
                      Index last, Term term = 1) {
  SUITE_RUN(open_store(factory, store));
  SUITE_RUN(append(**store, *model, make_entries(1, last, term)));
  return "";
}

// ---------------------------------------------------------------------------
// Cases

std::string empty_store(LogStoreFactory& f) {
  std::unique_ptr<LogStore> store;
  SUITE_RUN(open_store(f, &store));
  SUITE_CHECK_EQ(store->first_index(), Index{1});
  SUITE_CHECK_EQ(store->last_index(), Index{0});
  SUITE_CHECK_EQ(store->durable_index(), Index{0});
  Term term = 99;
  SUITE_CHECK_OK(store->term(0, &term));
  SUITE_CHECK_EQ(term, Term{0});
  SUITE_CHECK_CODE(store->term(1, &term), StatusCode::kUnavailable);
  std::vector<Entry> out;
  SUITE_CHECK_OK(store->entries(1, 1, kNoLimit, &out));
  SUITE_CHECK(out.empty());
  SUITE_CHECK_CODE(store->entries(1, 2, kNoLimit, &out),
                   StatusCode::kUnavailable);
  SUITE_CHECK_CODE(store->entries(0, 1, kNoLimit, &out),
                   StatusCode::kCompacted);
  SUITE_CHECK_OK(store->truncate_suffix(1));
  SUITE_CHECK_OK(store->purge_prefix(0));
  SUITE_CHECK_OK(store->sync());
  SUITE_RUN(check_reopened(f, &store, Model{}));
  return "";
}

std::string append_and_read(LogStoreFactory& f) {
  std::unique_ptr<LogStore> store;
  Model model;
  SUITE_RUN(open_store(f, &store));
  std::vector<Entry> batch = make_entries(1, 10, 1);
  for (Index i = 6; i <= 10; ++i) batch[i - 1] = make_entry(i, 2);
  SUITE_RUN(append(*store, model, batch));
  SUITE_RUN(check_matches(*store, model));
  for (Index i = 1; i <= 10; ++i) {
    std::vector<Entry> out;
    SUITE_CHECK_OK(store->entries(i, i + 1, kNoLimit, &out));
    SUITE_CHECK_EQ(out.size(), size_t{1});
    SUITE_CHECK(out[0] == batch[i - 1]);
  }
  SUITE_RUN(check_reopened(f, &store, model));
  return "";
}

std::string append_one_at_a_time(LogStoreFactory& f) {
  std::unique_ptr<LogStore> store;
  Model model;
  SUITE_RUN(open_store(f, &store));
  for (Index i = 1; i <= 100; ++i) {
    SUITE_RUN(append(*store, model, {make_entry(i, 1 + i / 10)}));
    SUITE_CHECK_EQ(store->last_index(), i);
  }
  SUITE_RUN(check_matches(*store, model));
  SUITE_RUN(check_reopened(f, &store, model));
  return "";
}

std::string entries_subranges(LogStoreFactory& f) {
  std::unique_ptr<LogStore> store;
  Model model;
  SUITE_RUN(open_with(f, &store, &model, 12));
  for (Index lo = 1; lo <= 13; ++lo) {
    for (Index hi = lo; hi <= 13; ++hi) {
      std::vector<Entry> out;
      SUITE_CHECK_OK(store->entries(lo, hi, kNoLimit, &out));
      SUITE_CHECK_EQ(out.size(), size_t{hi - lo});
      for (size_t i = 0; i < out.size(); ++i) {
        SUITE_CHECK(out[i] == model.entries[lo - 1 + i]);
      }
    }
  }
  return "";
}

std::string entries_max_bytes(LogStoreFactory& f) {
  std::unique_ptr<LogStore> store;
  Model model;
  SUITE_RUN(open_store(f, &store));
  SUITE_RUN(append(*store, model, make_entries(1, 10, 1, 100)));
  const std::pair<uint64_t, size_t> limits[] = {
      {0, 1},   {1, 1},   {99, 1},  {100, 1},   {199, 1},
      {200, 2}, {250, 2}, {999, 9}, {1000, 10}, {kNoLimit, 10}};
  for (const auto& [max_bytes, count] : limits) {
    std::vector<Entry> out;
    SUITE_CHECK_OK(store->entries(1, 11, max_bytes, &out));
    if (out.size() != count) {
      return fail(__LINE__, "max_bytes " + show(max_bytes) + " returned " +
                                show(out.size()) + " entries, expected " +
                                show(count));
    }
  }
  // The limit applies from lo, and entries are appended after what *out holds.
  std::vector<Entry> out = {make_entry(99, 9)};
  SUITE_CHECK_OK(store->entries(4, 11, 300, &out));
  SUITE_CHECK_EQ(out.size(), size_t{4});
  SUITE_CHECK(out[0] == make_entry(99, 9));
  SUITE_CHECK(out[1] == model.entries[3]);
  SUITE_CHECK(out[3] == model.entries[5]);
  // Empty entries cost nothing, so a zero budget still returns them all.
  SUITE_RUN(append(*store, model, make_entries(11, 15, 1, 0)));
  out.clear();
  SUITE_CHECK_OK(store->entries(11, 16, 0, &out));
  SUITE_CHECK_EQ(out.size(), size_t{5});
  return "";
}

std::string entries_out_of_range(LogStoreFactory& f) {
  std::unique_ptr<LogStore> store;
  Model model;
  SUITE_RUN(open_with(f, &store, &model, 10));
  SUITE_CHECK_OK(store->purge_prefix(3));
  std::vector<Entry> out;
  SUITE_CHECK_CODE(store->entries(3, 5, kNoLimit, &out),
                   StatusCode::kCompacted);
  SUITE_CHECK_CODE(store->entries(0, 5, kNoLimit, &out),
                   StatusCode::kCompacted);
  SUITE_CHECK_CODE(store->entries(4, 12, kNoLimit, &out),
                   StatusCode::kUnavailable);
  SUITE_CHECK_CODE(store->entries(11, 12, kNoLimit, &out),
                   StatusCode::kUnavailable);
  SUITE_CHECK(out.empty());
  SUITE_CHECK_OK(store->entries(4, 11, kNoLimit, &out));
  SUITE_CHECK_EQ(out.size(), size_t{7});
  out.clear();
  SUITE_CHECK_OK(store->entries(11, 11, kNoLimit, &out));
  SUITE_CHECK(out.empty());
  return "";
}

std::string term_lookups(LogStoreFactory& f) {
  std::unique_ptr<LogStore> store;
  Model model;
  SUITE_RUN(open_store(f, &store));
  SUITE_RUN(append(*store, model,
                   {make_entry(1, 1), make_entry(2, 1), make_entry(3, 2),
                    make_entry(4, 2), make_entry(5, 5)}));
  const Term expected[] = {0, 1, 1, 2, 2, 5};
  for (Index i = 0; i <= 5; ++i) {
    Term term = 99;
    SUITE_CHECK_OK(store->term(i, &term));
    SUITE_CHECK_EQ(term, expected[i]);
  }
  Term term = 0;
  SUITE_CHECK_CODE(store->term(6, &term), StatusCode::kUnavailable);
  SUITE_CHECK_OK(store->purge_prefix(3));
  model.purge(3);
  SUITE_CHECK_OK(store->term(3, &term));
  SUITE_CHECK_EQ(term, Term{2});
  SUITE_CHECK_CODE(store->term(2, &term), StatusCode::kCompacted);
  SUITE_CHECK_CODE(store->term(0, &term), StatusCode::kCompacted);
  SUITE_RUN(check_reopened(f, &store, model));
  SUITE_CHECK_OK(store->term(3, &term));
  SUITE_CHECK_EQ(term, Term{2});
  return "";
}

std::string append_conflict_replaces_suffix(LogStoreFactory& f) {
  std::unique_ptr<LogStore> store;
  Model model;
  SUITE_RUN(open_with(f, &store, &model, 10));
  SUITE_RUN(append(*store, model, make_entries(6, 8, 2)));
  SUITE_CHECK_EQ(store->last_index(), Index{8});
  SUITE_RUN(check_matches(*store, model));
  SUITE_RUN(check_reopened(f, &store, model));
  SUITE_RUN(append(*store, model, make_entries(9, 12, 2)));
  SUITE_RUN(append(*store, model, make_entries(1, 3, 3)));
  SUITE_CHECK_EQ(store->last_index(), Index{3});
  SUITE_RUN(check_matches(*store, model));
  SUITE_RUN(check_reopened(f, &store, model));
  return "";
}

std::string append_same_entries_again(LogStoreFactory& f) {
  std::unique_ptr<LogStore> store;
  Model model;
  SUITE_RUN(open_with(f, &store, &model, 10));
  SUITE_RUN(append(*store, model, make_entries(5, 10, 1)));
  SUITE_RUN(append(*store, model, make_entries(10, 10, 1)));
  SUITE_RUN(check_matches(*store, model));
  return "";
}

std::string append_at_first_index_after_purge(LogStoreFactory& f) {
  std::unique_ptr<LogStore> store;
  Model model;
  SUITE_RUN(open_with(f, &store, &model, 10));
  SUITE_CHECK_OK(store->purge_prefix(5));
  model.purge(5);
  SUITE_RUN(append(*store, model, make_entries(6, 7, 3)));
  SUITE_RUN(check_matches(*store, model));
  SUITE_RUN(check_reopened(f, &store, model));
  return "";
}

std::string append_rejects_gap(LogStoreFactory& f) {
  std::unique_ptr<LogStore> store;
  Model model;
  SUITE_RUN(open_with(f, &store, &model, 5));
  SUITE_CHECK_CODE(store->append({make_entry(7, 1)}),
                   StatusCode::kInvalidArgument);
  SUITE_CHECK_CODE(store->append(make_entries(100, 105, 1)),
                   StatusCode::kInvalidArgument);
  SUITE_RUN(check_matches(*store, model));
  SUITE_RUN(append(*store, model, {make_entry(6, 1)}));
  SUITE_RUN(check_reopened(f, &store, model));
  return "";
}

std::string append_rejects_non_consecutive(LogStoreFactory& f) {
  std::unique_ptr<LogStore> store;
  Model model;
  SUITE_RUN(open_with(f, &store, &model, 5));
  // Nothing of a rejected batch may be applied, not even its valid head.
  SUITE_CHECK_CODE(store->append({make_entry(6, 1), make_entry(8, 1)}),
                   StatusCode::kInvalidArgument);
  SUITE_CHECK_CODE(store->append({make_entry(3, 2), make_entry(3, 2)}),
                   StatusCode::kInvalidArgument);
  SUITE_CHECK_CODE(store->append({make_entry(6, 1), make_entry(5, 1)}),
                   StatusCode::kInvalidArgument);
  SUITE_RUN(check_matches(*store, model));
  SUITE_RUN(check_reopened(f, &store, model));
  return "";
}

std::string append_rejects_below_first(LogStoreFactory& f) {
  std::unique_ptr<LogStore> store;
  Model model;
  SUITE_RUN(open_with(f, &store, &model, 10));
  SUITE_CHECK_OK(store->purge_prefix(5));
  model.purge(5);
  SUITE_CHECK_CODE(store->append(make_entries(3, 12, 2)),
                   StatusCode::kInvalidArgument);
  SUITE_CHECK_CODE(store->append({make_entry(5, 2)}),
                   StatusCode::kInvalidArgument);
  SUITE_RUN(check_matches(*store, model));
  SUITE_RUN(check_reopened(f, &store, model));
  return "";
}

std::string append_rejects_index_zero(LogStoreFactory& f) {
  std::unique_ptr<LogStore> store;
  SUITE_RUN(open_store(f, &store));
  SUITE_CHECK_CODE(store->append({make_entry(0, 1)}),
                   StatusCode::kInvalidArgument);
  SUITE_CHECK_CODE(store->append({make_entry(0, 1), make_entry(1, 1)}),
                   StatusCode::kInvalidArgument);
  SUITE_RUN(check_matches(*store, Model{}));
  return "";
}

std::string append_empty_is_noop(LogStoreFactory& f) {
  std::unique_ptr<LogStore> store;
  Model model;
  SUITE_RUN(open_store(f, &store));
  SUITE_CHECK_OK(store->append({}));
  SUITE_RUN(check_matches(*store, model));
  SUITE_RUN(append(*store, model, make_entries(1, 3, 1)));
  SUITE_CHECK_OK(store->append({}));
  SUITE_RUN(check_matches(*store, model));
  return "";
}

std::string truncate_suffix_middle(LogStoreFactory& f) {
  std::unique_ptr<LogStore> store;
  Model model;
  SUITE_RUN(open_with(f, &store, &model, 10));
  SUITE_CHECK_OK(store->truncate_suffix(6));
  model.truncate(6);
  SUITE_CHECK_EQ(store->last_index(), Index{5});
  SUITE_RUN(check_matches(*store, model));
  SUITE_RUN(check_reopened(f, &store, model));
  SUITE_RUN(append(*store, model, make_entries(6, 8, 2)));
  SUITE_RUN(check_reopened(f, &store, model));
  return "";
}

std::string truncate_after_last_is_noop(LogStoreFactory& f) {
  std::unique_ptr<LogStore> store;
  Model model;
  SUITE_RUN(open_with(f, &store, &model, 10));
  SUITE_CHECK_OK(store->truncate_suffix(11));
  SUITE_CHECK_OK(store->truncate_suffix(1000));
  SUITE_CHECK_OK(store->truncate_suffix(std::numeric_limits<Index>::max()));
  SUITE_RUN(check_matches(*store, model));
  SUITE_RUN(check_reopened(f, &store, model));
  return "";
}

std::string truncate_everything(LogStoreFactory& f) {
  std::unique_ptr<LogStore> store;
  Model model;
  SUITE_RUN(open_with(f, &store, &model, 10));
  SUITE_CHECK_OK(store->truncate_suffix(1));
  model.truncate(1);
  SUITE_CHECK_EQ(store->last_index(), Index{0});
  SUITE_RUN(check_reopened(f, &store, model));
  SUITE_RUN(append(*store, model, make_entries(1, 10, 2)));
  SUITE_CHECK_OK(store->purge_prefix(4));
  model.purge(4);
  SUITE_CHECK_OK(store->truncate_suffix(5));
  model.truncate(5);
  SUITE_CHECK_EQ(store->first_index(), Index{5});
  SUITE_CHECK_EQ(store->last_index(), Index{4});
  SUITE_RUN(check_matches(*store, model));
  SUITE_RUN(check_reopened(f, &store, model));
  SUITE_RUN(append(*store, model, make_entries(5, 6, 3)));
  SUITE_RUN(check_reopened(f, &store, model));
  return "";
}

std::string truncate_below_first_rejected(LogStoreFactory& f) {
  std::unique_ptr<LogStore> store;
  Model model;
  SUITE_RUN(open_with(f, &store, &model, 10));
  SUITE_CHECK_OK(store->purge_prefix(4));
  model.purge(4);
  SUITE_CHECK_CODE(store->truncate_suffix(4), StatusCode::kInvalidArgument);
  SUITE_CHECK_CODE(store->truncate_suffix(0), StatusCode::kInvalidArgument);
  SUITE_RUN(check_matches(*store, model));
  return "";
}

std::string purge_partial(LogStoreFactory& f) {
  std::unique_ptr<LogStore> store;
  Model model;
  SUITE_RUN(open_with(f, &store, &model, 10));
  SUITE_CHECK_OK(store->purge_prefix(4));
  model.purge(4);
  SUITE_CHECK_EQ(store->first_index(), Index{5});
  SUITE_RUN(check_matches(*store, model));
  SUITE_RUN(check_reopened(f, &store, model));
  SUITE_CHECK_OK(store->purge_prefix(7));
  model.purge(7);
  SUITE_RUN(check_reopened(f, &store, model));
  return "";
}

std::string purge_everything(LogStoreFactory& f) {
  std::unique_ptr<LogStore> store;
  Model model;
  SUITE_RUN(open_with(f, &store, &model, 10, 3));
  SUITE_CHECK_OK(store->purge_prefix(10));
  model.purge(10);
  SUITE_CHECK_EQ(store->first_index(), Index{11});
  SUITE_CHECK_EQ(store->last_index(), Index{10});
  SUITE_RUN(check_matches(*store, model));
  SUITE_RUN(check_reopened(f, &store, model));
  SUITE_RUN(append(*store, model, make_entries(11, 15, 4)));
  SUITE_RUN(check_reopened(f, &store, model));
  return "";
}

std::string purge_noops(LogStoreFactory& f) {
  std::unique_ptr<LogStore> store;
  Model model;
  SUITE_RUN(open_store(f, &store));
  SUITE_CHECK_OK(store->purge_prefix(0));
  SUITE_RUN(check_matches(*store, model));
  SUITE_RUN(append(*store, model, make_entries(1, 10, 1)));
  SUITE_CHECK_OK(store->purge_prefix(0));
  SUITE_RUN(check_matches(*store, model));
  SUITE_CHECK_OK(store->purge_prefix(5));
  model.purge(5);
  SUITE_CHECK_OK(store->purge_prefix(3));
  SUITE_CHECK_OK(store->purge_prefix(5));
  SUITE_RUN(check_matches(*store, model));
  SUITE_RUN(check_reopened(f, &store, model));
  return "";
}

std::string purge_past_last_rejected(LogStoreFactory& f) {
  std::unique_ptr<LogStore> store;
  Model model;
  SUITE_RUN(open_with(f, &store, &model, 10));
  SUITE_CHECK_CODE(store->purge_prefix(11), StatusCode::kInvalidArgument);
  SUITE_CHECK_CODE(store->purge_prefix(20), StatusCode::kInvalidArgument);
  SUITE_RUN(check_matches(*store, model));
  return "";
}

std::string purge_then_append_and_truncate(LogStoreFactory& f) {
  std::unique_ptr<LogStore> store;
  Model model;
  SUITE_RUN(open_with(f, &store, &model, 10));
  SUITE_CHECK_OK(store->purge_prefix(6));
  model.purge(6);
  SUITE_RUN(append(*store, model, make_entries(11, 20, 2)));
  SUITE_CHECK_OK(store->truncate_suffix(15));
  model.truncate(15);
  SUITE_RUN(append(*store, model, make_entries(15, 16, 3)));
  SUITE_RUN(check_matches(*store, model));
  SUITE_RUN(check_reopened(f, &store, model));
  return "";
}

std::string reset_empties_log(LogStoreFactory& f) {
  std::unique_ptr<LogStore> store;
  Model model;
  SUITE_RUN(open_with(f, &store, &model, 10));
  SUITE_CHECK_OK(store->reset(100, 7));
  model.reset(100, 7);
  SUITE_CHECK_EQ(store->first_index(), Index{101});
  SUITE_CHECK_EQ(store->last_index(), Index{100});
  SUITE_RUN(check_matches(*store, model));
  std::vector<Entry> out;
  SUITE_CHECK_OK(store->entries(101, 101, kNoLimit, &out));
  SUITE_CHECK_CODE(store->append({make_entry(50, 7)}),
                   StatusCode::kInvalidArgument);
  SUITE_CHECK_CODE(store->append({make_entry(102, 7)}),
                   StatusCode::kInvalidArgument);
  SUITE_RUN(check_reopened(f, &store, model));
  SUITE_RUN(append(*store, model, make_entries(101, 105, 8)));
  SUITE_RUN(check_reopened(f, &store, model));
  return "";
}

std::string reset_within_and_to_zero(LogStoreFactory& f) {
  std::unique_ptr<LogStore> store;
  Model model;
  SUITE_RUN(open_with(f, &store, &model, 10));
  SUITE_CHECK_OK(store->reset(3, 1));
  model.reset(3, 1);
  SUITE_RUN(check_matches(*store, model));
  SUITE_RUN(append(*store, model, make_entries(4, 6, 2)));
  SUITE_RUN(check_reopened(f, &store, model));
  SUITE_CHECK_OK(store->reset(0, 0));
  model.reset(0, 0);
  SUITE_CHECK_EQ(store->first_index(), Index{1});
  SUITE_RUN(check_reopened(f, &store, model));
  SUITE_RUN(append(*store, model, make_entries(1, 2, 1)));
  SUITE_RUN(check_reopened(f, &store, model));
  return "";
}

std::string reopen_after_each_operation(LogStoreFactory& f) {
  std::unique_ptr<LogStore> store;
  Model model;
  SUITE_RUN(open_store(f, &store));
  SUITE_RUN(check_reopened(f, &store, model));
  SUITE_RUN(append(*store, model, make_entries(1, 20, 1)));
  SUITE_RUN(check_reopened(f, &store, model));
  SUITE_RUN(append(*store, model, make_entries(15, 25, 2)));
  SUITE_RUN(check_reopened(f, &store, model));
  SUITE_CHECK_OK(store->truncate_suffix(22));
  model.truncate(22);
  SUITE_RUN(check_reopened(f, &store, model));
  SUITE_CHECK_OK(store->purge_prefix(10));
  model.purge(10);
  SUITE_RUN(check_reopened(f, &store, model));
  SUITE_CHECK_OK(store->reset(40, 4));
  model.reset(40, 4);
  SUITE_RUN(check_reopened(f, &store, model));
  SUITE_RUN(append(*store, model, make_entries(41, 45, 5)));
  SUITE_RUN(check_reopened(f, &store, model));
  return "";
}

std::string durable_after_close_without_sync(LogStoreFactory& f) {
  std::unique_ptr<LogStore> store;
  Model model;
  SUITE_RUN(open_with(f, &store, &model, 50));
  SUITE_CHECK_OK(store->truncate_suffix(41));
  model.truncate(41);
  SUITE_CHECK_OK(store->purge_prefix(10));
  model.purge(10);
  SUITE_RUN(append(*store, model, make_entries(41, 45, 2)));
  // No sync(): close() alone must make all of it durable.
  SUITE_RUN(check_reopened(f, &store, model));
  return "";
}

std::string sync_advances_durable_index(LogStoreFactory& f) {
  std::unique_ptr<LogStore> store;
  Model model;
  SUITE_RUN(open_with(f, &store, &model, 10));
  SUITE_CHECK(store->durable_index() <= 10);
  SUITE_CHECK_OK(store->sync());
  SUITE_CHECK_EQ(store->durable_index(), Index{10});
  SUITE_RUN(append(*store, model, make_entries(11, 20, 1)));
  SUITE_CHECK(store->durable_index() >= 10);
  SUITE_CHECK_OK(store->sync());
  SUITE_CHECK_EQ(store->durable_index(), Index{20});
  SUITE_CHECK_OK(store->truncate_suffix(16));
  SUITE_CHECK(store->durable_index() <= 15);
  SUITE_CHECK_OK(store->sync());
  SUITE_CHECK_EQ(store->durable_index(), Index{15});
  SUITE_CHECK_OK(store->sync());
  SUITE_CHECK_EQ(store->durable_index(), Index{15});
  return "";
}

std::string synced_entries_survive_destruction(LogStoreFactory& f) {
  std::unique_ptr<LogStore> store;
  Model model;
  SUITE_RUN(open_with(f, &store, &model, 20));
  SUITE_CHECK_OK(store->sync());
  SUITE_RUN(append(*store, model, make_entries(21, 30, 1)));
  // Dropped without close(): only what sync() covered is promised.
  store.reset();
  SUITE_RUN(open_store(f, &store));
  SUITE_CHECK_EQ(store->first_index(), Index{1});
  SUITE_CHECK(store->last_index() >= 20 && store->last_index() <= 30);
  std::vector<Entry> out;
  SUITE_CHECK_OK(store->entries(1, store->last_index() + 1, kNoLimit, &out));
  for (size_t i = 0; i < out.size(); ++i) {
    SUITE_CHECK(out[i] == model.entries[i]);
  }
  return "";
}

std::string closed_store_refuses_calls(LogStoreFactory& f) {
  std::unique_ptr<LogStore> store;
  Model model;
  SUITE_RUN(open_with(f, &store, &model, 5));
  SUITE_CHECK_OK(store->close());
  Term term = 0;
  std::vector<Entry> out;
  SUITE_CHECK_CODE(store->term(3, &term), StatusCode::kClosed);
  SUITE_CHECK_CODE(store->entries(1, 3, kNoLimit, &out), StatusCode::kClosed);
  SUITE_CHECK_CODE(store->append({make_entry(6, 1)}), StatusCode::kClosed);
  SUITE_CHECK_CODE(store->truncate_suffix(3), StatusCode::kClosed);
  SUITE_CHECK_CODE(store->purge_prefix(3), StatusCode::kClosed);
  SUITE_CHECK_CODE(store->reset(10, 1), StatusCode::kClosed);
  SUITE_CHECK_CODE(store->sync(), StatusCode::kClosed);
  SUITE_CHECK_CODE(store->close(), StatusCode::kClosed);
  store.reset();
  SUITE_RUN(open_store(f, &store));
  SUITE_RUN(check_matches(*store, model));
  return "";
}

std::string large_entries(LogStoreFactory& f) {
  std::unique_ptr<LogStore> store;
  Model model;
  SUITE_RUN(open_store(f, &store));
  const size_t sizes[] = {0, 1, 1 << 20, 4 << 20, 3, 64 << 10, 0};
  std::vector<Entry> batch;
  for (size_t i = 0; i < std::size(sizes); ++i) {
    batch.push_back(make_entry(i + 1, 1, sizes[i]));
  }
  SUITE_RUN(append(*store, model, batch));
  std::vector<Entry> out;
  SUITE_CHECK_OK(store->entries(4, 8, 1024, &out));
  SUITE_CHECK_EQ(out.size(), size_t{1});
  SUITE_CHECK(out[0] == batch[3]);
  SUITE_RUN(check_reopened(f, &store, model));
  return "";
}

std::string many_entries(LogStoreFactory& f) {
  std::unique_ptr<LogStore> store;
  Model model;
  SUITE_RUN(open_store(f, &store));
  constexpr Index kCount = 20000;
  for (Index i = 1; i <= kCount; i += 500) {
    SUITE_RUN(
        append(*store, model, make_entries(i, i + 499, 1 + i / 5000, 64)));
  }
  SUITE_CHECK_EQ(store->last_index(), kCount);
  SUITE_CHECK_OK(store->sync());
  SUITE_CHECK_OK(store->purge_prefix(kCount / 2));
  model.purge(kCount / 2);
  SUITE_RUN(check_reopened(f, &store, model));
  // Read the rest in bounded chunks, as a leader feeding a follower would.
  Index next = store->first_index();
  while (next <= kCount) {
    std::vector<Entry> out;
    SUITE_CHECK_OK(store->entries(next, kCount + 1, 64 * 1000, &out));
    SUITE_CHECK_EQ(out.size(), std::min<size_t>(1000, kCount + 1 - next));
    SUITE_CHECK(out.front() == model.entries[next - model.first]);
    next += out.size();
  }
  return "";
}

std::string entry_types_and_binary_data(LogStoreFactory& f) {
  std::unique_ptr<LogStore> store;
  Model model;
  SUITE_RUN(open_store(f, &store));
  std::string binary;
  for (int c = 0; c < 256; ++c) binary.push_back(static_cast<char>(c));
  SUITE_RUN(append(*store, model,
                   {Entry{1, 1, EntryType::kConfChange, binary},
                    Entry{1, 2, EntryType::kNoop, ""},
                    Entry{2, 3, EntryType::kNormal, std::string(5, '\0')},
                    Entry{2, 4, EntryType::kNormal, ""}}));
  SUITE_RUN(check_matches(*store, model));
  SUITE_RUN(check_reopened(f, &store, model));
  return "";
}

// A seeded random walk over every operation, checked against the model, with
// reopens (after close, or after sync and destruction) along the way.
std::string random_operations_match_model(LogStoreFactory& f) {
  std::mt19937_64 rng(20240611);
  auto pick = [&rng](uint64_t lo, uint64_t hi) {
    return std::uniform_int_distribution<uint64_t>(lo, hi)(rng);
  };
  std::unique_ptr<LogStore> store;
  Model model;
  SUITE_RUN(open_store(f, &store));
  Term term = 1;
  for (int step = 0; step < 400; ++step) {
    const uint64_t op = pick(0, 99);
    if (op < 55) {
      // Append, sometimes over a suffix (a Raft conflict).
      Index start = model.last() + 1;
      if (op < 15 && !model.entries.empty()) start = pick(model.first, start);
      if (op < 15) ++term;
      std::vector<Entry> batch;
      const Index count = pick(1, 8);
      for (Index i = start; i < start + count; ++i) {
        batch.push_back(make_entry(i, term, pick(0, 300)));
      }
      SUITE_RUN(append(*store, model, batch));
    } else if (op < 65) {
      const Index index = pick(model.first, model.last() + 3);
      SUITE_CHECK_OK(store->truncate_suffix(index));
      model.truncate(index);
    } else if (op < 75) {
      if (model.entries.empty()) continue;
      const Index index = pick(model.first - 1, model.last());
      SUITE_CHECK_OK(store->purge_prefix(index));
      model.purge(index);
    } else if (op < 78) {
      const Index index = model.last() + pick(0, 20);
      ++term;
      SUITE_CHECK_OK(store->reset(index, term));
      model.reset(index, term);
    } else if (op < 88) {
      SUITE_CHECK_OK(store->sync());
      SUITE_CHECK_EQ(store->durable_index(), model.last());
    } else if (op < 94) {
      SUITE_RUN(check_reopened(f, &store, model));
    } else {
      SUITE_CHECK_OK(store->sync());
      store.reset();
      SUITE_RUN(open_store(f, &store));
    }
    if (step % 25 == 0) {
      std::string message = check_matches(*store, model);
      if (!message.empty()) return "step " + show(step) + ": " + message;
    } else {
      SUITE_CHECK_EQ(store->first_index(), model.first);
      SUITE_CHECK_EQ(store->last_index(), model.last());
    }
  }
  SUITE_RUN(check_reopened(f, &store, model));
  return "";
}

// One writer, two readers: a reader must never see a torn batch, a wrong
// entry or a gap, whatever the interleaving (kCompacted and kUnavailable are
// the only allowed failures, from racing with purges and truncations).
std::string concurrent_readers(LogStoreFactory& f) {
  std::unique_ptr<LogStore> store;
  SUITE_RUN(open_store(f, &store));
  std::atomic<bool> done{false};
  std::mutex mutex;
  std::string reader_failure;
  auto reader = [&] {
    auto report = [&](const std::string& what) {
      std::lock_guard lock(mutex);
      if (reader_failure.empty()) reader_failure = what;
    };
    while (!done.load()) {
      const Index first = store->first_index();
      const Index last = store->last_index();
      std::vector<Entry> out;
      const Status s = store->entries(first, last + 1, 16 << 10, &out);
      if (s.code() == StatusCode::kCompacted ||
          s.code() == StatusCode::kUnavailable) {
        continue;
      }
      if (!s.is_ok()) return report("reader: " + s.to_string());
      for (size_t i = 0; i < out.size(); ++i) {
        const Entry& e = out[i];
        if (e.index != first + i || e.data != payload(e.index, e.term, 32)) {
          return report("reader saw a wrong entry at index " + show(e.index));
        }
      }
      Term term = 0;
      const Status t = store->term(last, &term);
      if (!t.is_ok() && t.code() != StatusCode::kCompacted &&
          t.code() != StatusCode::kUnavailable) {
        return report("reader: " + t.to_string());
      }
    }
  };
  std::thread reader1(reader);
  std::thread reader2(reader);
  std::string writer_failure;
  Term term = 1;
  for (Index i = 1; i <= 3000 && writer_failure.empty(); i += 10) {
    Status s = store->append(make_entries(i, i + 9, term, 32));
    if (s && i % 500 == 1 && i > 1) {
      ++term;
      s = store->append(make_entries(i + 5, i + 9, term, 32));
      if (s) s = store->purge_prefix(i - 200);
    }
    if (s && i % 300 == 1) s = store->sync();
    if (!s) writer_failure = "writer: " + s.to_string();
  }
  done.store(true);
  reader1.join();
  reader2.join();
  if (!writer_failure.empty()) return fail(__LINE__, writer_failure);
  if (!reader_failure.empty()) return fail(__LINE__, reader_failure);
  SUITE_CHECK_EQ(store->last_index(), Index{3000});
  return "";
}

// ---------------------------------------------------------------------------
// Hard-state cases

std::string open_hard_state(HardStateStoreFactory& factory,
                            std::unique_ptr<HardStateStore>* store) {
  SUITE_CHECK_OK(factory.open(store));
  SUITE_CHECK(*store != nullptr);
  return "";
}

std::string hard_state_initially_zero(HardStateStoreFactory& f) {
  std::unique_ptr<HardStateStore> store;
  SUITE_RUN(open_hard_state(f, &store));
  HardState state{5, 5, 5};
  SUITE_CHECK_OK(store->load(&state));
  SUITE_CHECK(state == HardState{});
  return "";
}

std::string hard_state_round_trip(HardStateStoreFactory& f) {
  std::unique_ptr<HardStateStore> store;
  SUITE_RUN(open_hard_state(f, &store));
  const HardState states[] = {{1, 2, 3},
                              {5, 0, 3},
                              {0, 0, 0},
                              {std::numeric_limits<Term>::max(),
                               std::numeric_limits<raft::NodeId>::max(),
                               std::numeric_limits<Index>::max()}};
  for (const HardState& saved : states) {
    SUITE_CHECK_OK(store->save(saved));
    HardState loaded;
    SUITE_CHECK_OK(store->load(&loaded));
    SUITE_CHECK(loaded == saved);
  }
  return "";
}

std::string hard_state_survives_reopen(HardStateStoreFactory& f) {
  std::unique_ptr<HardStateStore> store;
  SUITE_RUN(open_hard_state(f, &store));
  SUITE_CHECK_OK(store->save({42, 7, 100}));
  store.reset();
  SUITE_RUN(open_hard_state(f, &store));
  HardState loaded;
  SUITE_CHECK_OK(store->load(&loaded));
  SUITE_CHECK(loaded == (HardState{42, 7, 100}));
  return "";
}

std::string hard_state_last_save_wins(HardStateStoreFactory& f) {
  std::unique_ptr<HardStateStore> store;
  SUITE_RUN(open_hard_state(f, &store));
  for (Term term = 1; term <= 50; ++term) {
    SUITE_CHECK_OK(store->save({term, term % 3, term * 10}));
  }
  store.reset();
  SUITE_RUN(open_hard_state(f, &store));
  HardState loaded;
  SUITE_CHECK_OK(store->load(&loaded));
  SUITE_CHECK(loaded == (HardState{50, 2, 500}));
  return "";
}

#undef SUITE_CHECK
#undef SUITE_CHECK_OK
#undef SUITE_CHECK_CODE
#undef SUITE_CHECK_EQ
#undef SUITE_RUN

}  // namespace

std::vector<LogStoreCase> log_store_cases() {
  return {
      {"empty_store", empty_store},
      {"append_and_read", append_and_read},
      {"append_one_at_a_time", append_one_at_a_time},
      {"entries_subranges", entries_subranges},
      {"entries_max_bytes", entries_max_bytes},
      {"entries_out_of_range", entries_out_of_range},
      {"term_lookups", term_lookups},
      {"append_conflict_replaces_suffix", append_conflict_replaces_suffix},
      {"append_same_entries_again", append_same_entries_again},
      {"append_at_first_index_after_purge", append_at_first_index_after_purge},
      {"append_rejects_gap", append_rejects_gap},
      {"append_rejects_non_consecutive", append_rejects_non_consecutive},
      {"append_rejects_below_first", append_rejects_below_first},
      {"append_rejects_index_zero", append_rejects_index_zero},
      {"append_empty_is_noop", append_empty_is_noop},
      {"truncate_suffix_middle", truncate_suffix_middle},
      {"truncate_after_last_is_noop", truncate_after_last_is_noop},
      {"truncate_everything", truncate_everything},
      {"truncate_below_first_rejected", truncate_below_first_rejected},
      {"purge_partial", purge_partial},
      {"purge_everything", purge_everything},
      {"purge_noops", purge_noops},
      {"purge_past_last_rejected", purge_past_last_rejected},
      {"purge_then_append_and_truncate", purge_then_append_and_truncate},
      {"reset_empties_log", reset_empties_log},
      {"reset_within_and_to_zero", reset_within_and_to_zero},
      {"reopen_after_each_operation", reopen_after_each_operation},
      {"durable_after_close_without_sync", durable_after_close_without_sync},
      {"sync_advances_durable_index", sync_advances_durable_index},
      {"synced_entries_survive_destruction",
       synced_entries_survive_destruction},
      {"closed_store_refuses_calls", closed_store_refuses_calls},
      {"large_entries", large_entries},
      {"many_entries", many_entries},
      {"entry_types_and_binary_data", entry_types_and_binary_data},
      {"random_operations_match_model", random_operations_match_model},
      {"concurrent_readers", concurrent_readers},
  };
}

std::vector<HardStateStoreCase> hard_state_store_cases() {
  return {
      {"hard_state_initially_zero", hard_state_initially_zero},
      {"hard_state_round_trip", hard_state_round_trip},
      {"hard_state_survives_reopen", hard_state_survives_reopen},
      {"hard_state_last_save_wins", hard_state_last_save_wins},
  };
}

}  // namespace dengine::testkit
