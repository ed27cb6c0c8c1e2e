#include "profiles/isf/isf_loader.h"

#include <openssl/evp.h>

#include <climits>
#include <cmath>
#include <iostream>
#include <filesystem>
#include <functional>
#include <nlohmann/json.hpp>

#include "core/util/error.h"
#include "profiles/decompress.h"
#include "core/util/file_identity.h"
#include "profiles/cache/profile_cache.h"

namespace memscope {
namespace {

using json = nlohmann::json;

// Where the parser is: one frame per open JSON object we understand.
enum class Context : uint8_t {
  kRoot,
  kMetadata,
  kProducer,
  kBaseTypes,
  kBaseType,
  kUserTypes,
  kUserType,
  kFields,
  kField,
  kEnums,
  kEnum,
  kConstants,
  kSymbols,
  kSymbol,
  kTypeDescriptor,
};

// A type descriptor nests (a pointer to an array of pointers...); deeper
// than this is no real type, only a way to exhaust memory.
constexpr size_t kMaxDepth = 64;

struct Frame {
  Context context = Context::kRoot;
  std::string key;  // the last key read in this object
  TypeRef ref;      // the record (kUserType, kFields) or enum (kEnum, kConstants)
  TypeRef child;    // the type a nested descriptor resolved to
  std::optional<uint64_t> size, offset, address, count, bit_position, bit_length;
  std::optional<bool> is_signed;
  bool anonymous = false;
  bool has_fields = false;
  std::string kind, name, text;  // descriptor/base/user kind, names, constant_data

  void reset(Context c) {
    context = c;
    key.clear();
    ref = child = TypeRef();
    size = offset = address = count = bit_position = bit_length = std::nullopt;
    is_signed = std::nullopt;
    anonymous = has_fields = false;
    kind.clear();
    name.clear();
    text.clear();
  }
};

// A JSON number as the SAX parser reports it.
struct Number {
  bool exact_integer = true;
  bool negative = false;
  uint64_t bits = 0;  // the value, or its two's complement when negative
};

// Standard base64 as ISF's constant_data holds it, through OpenSSL. Line
// breaks are dropped and missing padding restored first (OpenSSL's block
// decoder wants neither); the padding's zero bytes are then removed.
std::string decode_base64(std::string_view text, bool& ok) {
  std::string clean;
  clean.reserve(text.size() + 3);
  for (char c : text)
    if (c != '\n' && c != '\r') clean.push_back(c);
  while (clean.size() % 4) clean.push_back('=');
  ok = true;
  if (clean.empty()) return {};
  if (clean.size() > size_t(INT_MAX)) {
    ok = false;
    return {};
  }
  std::string out(clean.size() / 4 * 3, '\0');
  int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          reinterpret_cast<const unsigned char*>(clean.data()), int(clean.size()));
  if (n < 0) {
    ok = false;
    return {};
  }
  size_t padding = 0;
  for (size_t i = clean.size(); i > 0 && clean[i - 1] == '=' && padding < 2; --i) ++padding;
  // "=" anywhere but at the end is not base64.
  if (clean.find('=') < clean.size() - padding) {
    ok = false;
    return {};
  }
  out.resize(size_t(n) - padding);
  return out;
}

// The banner as the kernel prints it, without the trailing newline and NULs
// that linux_banner carries in memory.
std::string trim_banner(std::string banner) {
  while (!banner.empty() && (banner.back() == '\0' || banner.back() == '\n' || banner.back() == '\r' ||
                             banner.back() == ' '))
    banner.pop_back();
  return banner;
}

class IsfHandler {
 public:
  using number_integer_t = json::number_integer_t;
  using number_unsigned_t = json::number_unsigned_t;
  using number_float_t = json::number_float_t;
  using string_t = json::string_t;
  using binary_t = json::binary_t;

  // builder == nullptr: summary mode (metadata and banner only).
  IsfHandler(std::string source, ProfileBuilder* builder, std::function<uint64_t()> position)
      : source_(std::move(source)), builder_(builder), position_(std::move(position)) {
    frames_.resize(8);
  }

  const IsfSummary& summary() const { return summary_; }
  bool stopped_early() const { return stopped_early_; }

  // After the parser returned: the document must have been an ISF.
  void check_complete() const {
    if (!root_done_) fail_at("", "incomplete document");
    if (!metadata_seen_) fail_at("", "no 'metadata' object: not an ISF file");
  }

  [[noreturn]] void fail_at(const std::string& where, const std::string& what) const {
    std::string message = source_ + ": ";
    if (!where.empty()) message += where + ": ";
    message += what;
    if (position_) message += " (near byte " + std::to_string(position_()) + " of the JSON text)";
    throw FormatError(message);
  }
  [[noreturn]] void fail(const std::string& what) const { fail_at(location(), what); }

  // Dotted path of keys to the current value: "user_types.task_struct.fields.comm".
  std::string location() const {
    std::string out;
    for (size_t i = 0; i < depth_; ++i) {
      if (frames_[i].key.empty()) break;
      if (!out.empty()) out += '.';
      out += frames_[i].key;
    }
    return out;
  }

  // --- SAX interface -----------------------------------------------------
  bool null() { return scalar_ignored("null"); }
  bool boolean(bool value) {
    if (skip_depth_) return true;
    if (depth_ == 0) fail_at("", "not an ISF file (the document is not a JSON object)");
    Frame& f = top();
    if (f.context == Context::kBaseType && f.key == "signed") f.is_signed = value;
    else if (f.context == Context::kField && f.key == "anonymous") f.anonymous = value;
    return true;
  }
  bool number_integer(number_integer_t value) {
    return number(Number{true, value < 0, static_cast<uint64_t>(value)});
  }
  bool number_unsigned(number_unsigned_t value) { return number(Number{true, false, value}); }
  bool number_float(number_float_t value, const string_t&) {
    // Integers written as floats are accepted only while they are exact.
    Number n;
    n.exact_integer = std::isfinite(value) && std::floor(value) == value && std::fabs(value) <= 9007199254740992.0;
    if (n.exact_integer) {
      n.negative = value < 0;
      n.bits = n.negative ? static_cast<uint64_t>(static_cast<int64_t>(value)) : static_cast<uint64_t>(value);
    }
    return number(n);
  }
  bool string(string_t& value) {
    if (skip_depth_) return true;
    if (depth_ == 0) fail_at("", "not an ISF file (the document is not a JSON object)");
    Frame& f = top();
    switch (f.context) {
      case Context::kMetadata:
        if (f.key == "format") summary_.format_version = value;
        break;
      case Context::kProducer:
        if (f.key == "name") producer_name_ = value;
        else if (f.key == "version") producer_version_ = value;
        break;
      case Context::kBaseType:
        if (f.key == "kind") f.kind.swap(value);
        else if (f.key == "endian" && value != "little") fail("big-endian types are not supported");
        break;
      case Context::kUserType:
        if (f.key == "kind") f.kind.swap(value);
        break;
      case Context::kEnum:
        if (f.key == "base") f.name.swap(value);
        break;
      case Context::kSymbol:
        if (f.key == "constant_data") f.text.swap(value);
        break;
      case Context::kTypeDescriptor:
        if (f.key == "kind") f.kind.swap(value);
        else if (f.key == "name") f.name.swap(value);
        break;
      default: break;
    }
    return true;
  }
  bool binary(binary_t&) { return scalar_ignored("binary"); }

  bool key(string_t& value) {
    if (!skip_depth_) top().key.swap(value);
    return true;
  }

  bool start_object(std::size_t) {
    if (skip_depth_) {
      ++skip_depth_;
      return true;
    }
    if (depth_ == 0) {
      push(Context::kRoot);
      return true;
    }
    Frame& parent = top();
    const std::string& k = parent.key;
    bool summary_only = builder_ == nullptr;
    switch (parent.context) {
      case Context::kRoot:
        if (k == "metadata") push(Context::kMetadata);
        else if (k == "symbols") push(Context::kSymbols);
        else if (summary_only) skip();
        else if (k == "base_types") push(Context::kBaseTypes);
        else if (k == "user_types") push(Context::kUserTypes);
        else if (k == "enums") push(Context::kEnums);
        else skip();
        break;
      case Context::kMetadata:
        if (k == "producer") {
          push(Context::kProducer);
        } else {
          if (k == "linux" || k == "windows" || k == "mac") summary_.os = k;
          skip();
        }
        break;
      case Context::kBaseTypes: push(Context::kBaseType); break;
      case Context::kUserTypes: {
        TypeRef record = builder_->named(TypeKind::kStruct, k);
        push(Context::kUserType).ref = record;
        break;
      }
      case Context::kUserType:
        if (k == "fields") {
          parent.has_fields = true;
          TypeRef record = parent.ref;
          push(Context::kFields).ref = record;
        } else {
          skip();
        }
        break;
      case Context::kFields: push(Context::kField); break;
      case Context::kEnums: {
        TypeRef enum_type = builder_->named(TypeKind::kEnum, k);
        push(Context::kEnum).ref = enum_type;
        break;
      }
      case Context::kEnum:
        if (k == "constants") {
          TypeRef enum_type = parent.ref;
          push(Context::kConstants).ref = enum_type;
        } else {
          skip();
        }
        break;
      case Context::kSymbols:
        if (summary_only && k != "linux_banner") skip();
        else push(Context::kSymbol);
        break;
      case Context::kField:
      case Context::kSymbol:
        if (k == "type" && !summary_only) push(Context::kTypeDescriptor);
        else skip();
        break;
      case Context::kTypeDescriptor:
        if (k == "subtype" || k == "type") push(Context::kTypeDescriptor);
        else skip();
        break;
      default: skip(); break;
    }
    return true;
  }

  bool end_object() {
    if (skip_depth_) {
      --skip_depth_;
      return true;
    }
    bool keep_going = finish_frame();
    --depth_;
    return keep_going;
  }

  bool start_array(std::size_t) {
    if (depth_ == 0 && !skip_depth_) fail_at("", "not an ISF file (the document is not a JSON object)");
    ++skip_depth_;
    return true;
  }
  bool end_array() {
    --skip_depth_;
    return true;
  }

  bool parse_error(std::size_t position, const std::string&, const nlohmann::detail::exception& error) {
    throw FormatError(source_ + ": invalid JSON at byte " + std::to_string(position) + ": " + error.what());
  }

 private:
  Frame& top() { return frames_[depth_ - 1]; }
  const Frame& top() const { return frames_[depth_ - 1]; }

  Frame& push(Context context) {
    if (depth_ >= kMaxDepth) fail("JSON nested too deeply for an ISF file");
    if (depth_ == frames_.size()) frames_.resize(frames_.size() * 2);
    Frame& f = frames_[depth_++];
    f.reset(context);
    return f;
  }
  void skip() { skip_depth_ = 1; }

  bool scalar_ignored(const char*) {
    if (!skip_depth_ && depth_ == 0) fail_at("", "not an ISF file (the document is not a JSON object)");
    return true;
  }

  uint64_t unsigned_value(const Number& n) const {
    if (!n.exact_integer || n.negative) fail("expected a non-negative integer");
    return n.bits;
  }

  bool number(const Number& n) {
    if (skip_depth_) return true;
    if (depth_ == 0) fail_at("", "not an ISF file (the document is not a JSON object)");
    Frame& f = top();
    const std::string& k = f.key;
    switch (f.context) {
      case Context::kBaseType:
      case Context::kUserType:
      case Context::kEnum:
        if (k == "size") f.size = unsigned_value(n);
        break;
      case Context::kField:
        if (k == "offset") f.offset = unsigned_value(n);
        break;
      case Context::kSymbol:
        // Addresses are unsigned 64-bit; the JSON parser keeps them exact.
        if (k == "address") f.address = unsigned_value(n);
        break;
      case Context::kConstants:
        if (!n.exact_integer) fail("enumerator value is not an integer");
        builder_->add_enumerator(f.ref, k, static_cast<int64_t>(n.bits));
        break;
      case Context::kTypeDescriptor:
        if (k == "count") f.count = unsigned_value(n);
        else if (k == "bit_position") f.bit_position = unsigned_value(n);
        else if (k == "bit_length") f.bit_length = unsigned_value(n);
        break;
      default: break;
    }
    return true;
  }

  // Completes the object that just ended; false stops the parser.
  bool finish_frame() {
    Frame& f = top();
    switch (f.context) {
      case Context::kRoot: root_done_ = true; break;
      case Context::kMetadata:
        finish_metadata();
        if (!builder_ && !summary_.banner.empty()) {
          stopped_early_ = true;
          return false;
        }
        break;
      case Context::kProducer: break;
      case Context::kBaseType: finish_base_type(f); break;
      case Context::kUserType: finish_user_type(f); break;
      case Context::kField: finish_field(f); break;
      case Context::kEnum: finish_enum(f); break;
      case Context::kSymbol: return finish_symbol(f);
      case Context::kSymbols:
        // Summary mode: no banner in this file; nothing after symbols matters.
        if (!builder_ && metadata_seen_) {
          stopped_early_ = true;
          return false;
        }
        break;
      case Context::kTypeDescriptor: frames_[depth_ - 2].child = resolve_descriptor(f); break;
      default: break;
    }
    return true;
  }

  void finish_metadata() {
    metadata_seen_ = true;
    const std::string& format = summary_.format_version;
    if (format.empty()) fail("metadata has no 'format': not an ISF file");
    if (!format.starts_with("6."))
      fail("unsupported ISF format version '" + format + "' (memscope reads schema 6.x)");
    if (builder_) {
      ProfileMetadata& m = builder_->metadata();
      m.format_version = format;
      m.os = summary_.os;
      m.producer_name = producer_name_;
      m.producer_version = producer_version_;
    }
  }

  void finish_base_type(const Frame& f) {
    const std::string& name = frames_[depth_ - 2].key;
    if (!f.size) fail("base type without 'size'");
    BaseKind base;
    if (f.kind == "int") base = BaseKind::kInt;
    else if (f.kind == "char") base = BaseKind::kChar;
    else if (f.kind == "bool") base = BaseKind::kBool;
    else if (f.kind == "float") base = BaseKind::kFloat;
    else if (f.kind == "void") base = BaseKind::kVoid;
    else fail("unknown base type kind '" + f.kind + "'");
    builder_->define_base(builder_->named(TypeKind::kBase, name), *f.size, base, f.is_signed.value_or(false));
    if (name == "pointer") builder_->set_pointer_size(*f.size);
  }

  void finish_user_type(const Frame& f) {
    if (!f.size) fail("user type without 'size'");
    TypeKind kind;
    if (f.kind == "struct" || f.kind == "class") kind = TypeKind::kStruct;
    else if (f.kind == "union") kind = TypeKind::kUnion;
    else fail("unknown user type kind '" + f.kind + "'");
    builder_->define_record(f.ref, kind, *f.size);
  }

  void finish_field(const Frame& f) {
    const Frame& fields = frames_[depth_ - 2];
    if (!f.child.valid()) fail("field without 'type'");
    if (!f.offset) fail("field without 'offset'");
    builder_->add_member(fields.ref, fields.key, *f.offset, f.child, f.anonymous);
  }

  void finish_enum(const Frame& f) {
    if (!f.size) fail("enum without 'size'");
    TypeRef base = f.name.empty() ? TypeRef() : builder_->named(TypeKind::kBase, f.name);
    builder_->define_enum(f.ref, *f.size, base);
  }

  bool finish_symbol(const Frame& f) {
    const std::string& name = frames_[depth_ - 2].key;
    if (!f.address) fail("symbol without 'address'");
    if (name == "linux_banner" && !f.text.empty()) {
      bool ok = false;
      std::string decoded = decode_base64(f.text, ok);
      if (!ok) fail("constant_data is not valid base64");
      summary_.banner = trim_banner(std::move(decoded));
      if (builder_) builder_->metadata().banner = summary_.banner;
    }
    if (builder_) {
      builder_->add_symbol(name, *f.address, f.child);
    } else if (name == "linux_banner" && metadata_seen_) {
      stopped_early_ = true;
      return false;
    }
    return true;
  }

  TypeRef resolve_descriptor(const Frame& f) {
    const std::string& kind = f.kind;
    auto need_name = [&] {
      if (f.name.empty()) fail(kind + " type descriptor without 'name'");
    };
    auto need_child = [&](const char* key) {
      if (!f.child.valid()) fail(kind + " type descriptor without '" + key + "'");
    };
    if (kind == "base") {
      need_name();
      return builder_->named(TypeKind::kBase, f.name);
    }
    if (kind == "struct" || kind == "class") {
      need_name();
      return builder_->named(TypeKind::kStruct, f.name);
    }
    if (kind == "union") {
      need_name();
      return builder_->named(TypeKind::kUnion, f.name);
    }
    if (kind == "enum") {
      need_name();
      return builder_->named(TypeKind::kEnum, f.name);
    }
    if (kind == "pointer") {
      need_child("subtype");
      return builder_->pointer_to(f.child);
    }
    if (kind == "array") {
      need_child("subtype");
      if (!f.count) fail("array type descriptor without 'count'");
      return builder_->array_of(f.child, *f.count);
    }
    if (kind == "function") return builder_->function();
    if (kind == "bitfield") {
      need_child("type");
      if (!f.bit_position || !f.bit_length) fail("bitfield without 'bit_position' or 'bit_length'");
      if (*f.bit_position > 127 || *f.bit_length == 0 || *f.bit_length > 64)
        fail("unsupported bitfield (position " + std::to_string(*f.bit_position) + ", length " +
             std::to_string(*f.bit_length) + ")");
      return builder_->bitfield(f.child, unsigned(*f.bit_position), unsigned(*f.bit_length));
    }
    if (kind.empty()) fail("type descriptor without 'kind'");
    fail("unknown type kind '" + kind + "'");
  }

  std::string source_;
  ProfileBuilder* builder_;
  std::function<uint64_t()> position_;
  std::vector<Frame> frames_;
  size_t depth_ = 0;
  size_t skip_depth_ = 0;
  bool root_done_ = false;
  bool metadata_seen_ = false;
  bool stopped_early_ = false;
  std::string producer_name_, producer_version_;
  IsfSummary summary_;
};

std::string absolute_path(const std::string& path) {
  std::error_code ec;
  std::filesystem::path absolute = std::filesystem::absolute(path, ec);
  return ec ? path : absolute.lexically_normal().string();
}

template <typename Input>
std::shared_ptr<const Profile> parse(Input&& input, const std::string& source, std::function<uint64_t()> position,
                                     const FileIdentity& identity = {}) {
  ProfileBuilder builder(source);
  builder.set_source_identity(identity);
  // An ISF that lies (a field outside its struct, a type it never defines,
  // a symbol given twice) is refused naming it, not read as wrong values.
  builder.check_consistency();
  IsfHandler handler(source, &builder, std::move(position));
  try {
    json::sax_parse(std::forward<Input>(input), &handler);
  } catch (const ProfileError& e) {
    // The builder refused something: say where in the document (the file
    // name is already in front of the location).
    std::string what = e.what();
    std::string prefix = "profile " + source + ": ";
    if (what.starts_with(prefix)) what.erase(0, prefix.size());
    handler.fail(what);
  }
  handler.check_complete();
  return builder.finish();
}

}  // namespace

std::shared_ptr<const Profile> parse_isf_file(const std::string& path) {
  std::string source = absolute_path(path);
  // Taken before the file is read: if it changes while it is parsed, the
  // profile's recorded identity is the old one, so its cache entry is
  // stale at the next load rather than wrong.
  FileIdentity identity = file_identity(path);
  DecompressedFile file(path);
  return parse(file.stream(), source, [&file] { return file.position(); }, identity);
}

std::shared_ptr<const Profile> parse_isf_text(std::string_view text, const std::string& source) {
  return parse(text, source, nullptr);
}

IsfSummary read_isf_summary(const std::string& path) {
  DecompressedFile file(path);
  IsfHandler handler(absolute_path(path), nullptr, [&file] { return file.position(); });
  json::sax_parse(file.stream(), &handler);
  if (!handler.stopped_early()) handler.check_complete();
  return handler.summary();
}

std::shared_ptr<const Profile> load_profile(const std::string& path, bool use_cache) {
  LoadOptions options;
  options.use_cache = use_cache;
  return load_profile(path, options);
}

std::shared_ptr<const Profile> load_profile(const std::string& path, const LoadOptions& options) {
  std::string cache_dir = options.use_cache ? (options.cache_dir.empty() ? default_cache_dir() : options.cache_dir) : "";
  if (cache_dir.empty()) return parse_isf_file(path);
  ProfileCache cache(cache_dir);
  SourceKey key = source_key(path);
  CacheLookup cached = options.rebuild ? CacheLookup{} : cache.lookup(key);
  if (cached.profile) return cached.profile;
  if (cached.miss == CacheMiss::kDamaged) {
    std::string message = "profile cache entry " + cached.entry + " refused (" + cached.why + "); rebuilding it from " + key.path;
    if (options.warn) options.warn(message);
    else std::cerr << "warning: " << message << "\n";
  }
  auto profile = parse_isf_file(path);
  cache.store(key, *profile);  // best effort: a read-only cache only costs speed
  return profile;
}

}  // namespace memscope
