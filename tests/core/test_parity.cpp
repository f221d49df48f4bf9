// PyTorch parity: replays every case of tests/fixtures/ops_parity.safetensors
// (made by tools/make_fixtures.py) through the galen op and compares the output
// and the gradients of sum(out * w) with PyTorch's, in f64 (tight) and in f32
// (inputs rounded to f32, checked against the f64 reference). A separate case
// fails when a registered differentiable op has no parity case.
#include <algorithm>
#include <cmath>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "galen/core/json.h"
#include "test_util.h"

using namespace galen;

namespace {

const SafetensorsFile& fixture() {
  static const SafetensorsFile f =
      load_safetensors(std::string(GALEN_FIXTURES_DIR) + "/ops_parity.safetensors");
  return f;
}

struct Case {
  std::string name;
  std::string op;
  json::Value meta;
  std::vector<Tensor> inputs;                // as stored (contiguous bases)
  std::vector<std::optional<Shape>> perms;   // permutation applied before the op
  std::vector<Tensor> outs, weights, grads;  // weights/grads: undefined where absent
};

const Tensor* find_tensor(const std::string& key) {
  const auto& ts = fixture().tensors;
  auto it = ts.find(key);
  return it == ts.end() ? nullptr : &it->second;
}

const std::vector<Case>& cases() {
  static const std::vector<Case> all = [] {
    std::vector<Case> v;
    for (const auto& [key, text] : fixture().metadata) {
      if (key.rfind("__", 0) == 0) continue;  // file-level notes, not cases
      Case c;
      c.name = key;
      c.meta = json::parse(text);
      c.op = c.meta.find("op")->as_string();
      for (int i = 0;; ++i) {
        const Tensor* t = find_tensor(key + ".in" + std::to_string(i));
        if (!t) break;
        c.inputs.push_back(*t);
        const Tensor* g = find_tensor(key + ".grad" + std::to_string(i));
        c.grads.push_back(g ? *g : Tensor());
      }
      c.perms.resize(c.inputs.size());
      if (const json::Value* p = c.meta.find("perms")) {
        for (size_t i = 0; i < c.inputs.size(); ++i) {
          const json::Value& pi = p->as_array().at(i);
          if (pi.is_null()) continue;
          Shape s;
          for (const auto& d : pi.as_array()) s.push_back(d.as_int());
          c.perms[i] = s;
        }
      }
      const json::Value* nout = c.meta.find("nout");
      if (nout) {
        for (int64_t k = 0; k < nout->as_int(); ++k) {
          c.outs.push_back(*find_tensor(key + ".out" + std::to_string(k)));
          const Tensor* w = find_tensor(key + ".w" + std::to_string(k));
          c.weights.push_back(w ? *w : Tensor());
        }
      } else {
        c.outs.push_back(*find_tensor(key + ".out"));
        const Tensor* w = find_tensor(key + ".w");
        c.weights.push_back(w ? *w : Tensor());
      }
      v.push_back(std::move(c));
    }
    return v;
  }();
  return all;
}

// ---- metadata accessors ------------------------------------------------------------

const json::Value& param(const Case& c, const char* key) {
  const json::Value* v = c.meta.find(key);
  GALEN_CHECK(v, "parity case ", c.name, ": missing parameter \"", key, "\"");
  return *v;
}
int64_t int_param(const Case& c, const char* key) { return param(c, key).as_int(); }
double num_param(const Case& c, const char* key) { return param(c, key).as_double(); }
bool bool_param(const Case& c, const char* key) { return param(c, key).as_bool(); }
std::vector<int64_t> ints_param(const Case& c, const char* key) {
  std::vector<int64_t> out;
  for (const auto& d : param(c, key).as_array()) out.push_back(d.as_int());
  return out;
}
std::optional<double> opt_num_param(const Case& c, const char* key) {
  const json::Value& v = param(c, key);
  if (v.is_null()) return std::nullopt;
  return v.as_double();
}
bool has(const Case& c, const char* key) { return c.meta.find(key) != nullptr; }

DType parse_dtype(const std::string& s) {
  if (s == "f32") return DType::f32;
  if (s == "f64") return DType::f64;
  GALEN_FAIL("parity: unknown dtype \"", s, "\"");
}

// ---- op dispatch -----------------------------------------------------------------------

std::vector<Tensor> run_op(const Case& c, const std::vector<Tensor>& x) {
  const std::string& op = c.op;
  auto one = [](Tensor t) { return std::vector<Tensor>{std::move(t)}; };
  // unary
  if (op == "neg") return one(neg(x[0]));
  if (op == "abs") return one(abs(x[0]));
  if (op == "exp") return one(exp(x[0]));
  if (op == "log") return one(log(x[0]));
  if (op == "sqrt") return one(sqrt(x[0]));
  if (op == "rsqrt") return one(rsqrt(x[0]));
  if (op == "pow_scalar") return one(pow(x[0], num_param(c, "exponent")));
  if (op == "sigmoid") return one(sigmoid(x[0]));
  if (op == "tanh") return one(tanh(x[0]));
  if (op == "relu") return one(relu(x[0]));
  if (op == "gelu") return one(gelu(x[0]));
  if (op == "square") return one(square(x[0]));
  // binary
  if (op == "add" || op == "sub") {
    const bool is_add = op == "add";
    if (has(c, "scalar")) {
      const double s = num_param(c, "scalar");
      return one(is_add ? add(x[0], s) : sub(x[0], s));
    }
    const double alpha = has(c, "alpha") ? num_param(c, "alpha") : 1.0;
    return one(is_add ? add(x[0], x[1], alpha) : sub(x[0], x[1], alpha));
  }
  if (op == "mul") return one(has(c, "scalar") ? mul(x[0], num_param(c, "scalar")) : mul(x[0], x[1]));
  if (op == "div") return one(has(c, "scalar") ? div(x[0], num_param(c, "scalar")) : div(x[0], x[1]));
  if (op == "pow") return one(pow(x[0], x[1]));
  if (op == "maximum") return one(maximum(x[0], x[1]));
  if (op == "minimum") return one(minimum(x[0], x[1]));
  if (op == "where")
    return one(has(c, "scalar") ? where(x[0], x[1], num_param(c, "scalar")) : where(x[0], x[1], x[2]));
  if (op == "clamp") return one(clamp(x[0], opt_num_param(c, "min"), opt_num_param(c, "max")));
  if (op == "masked_fill") return one(masked_fill(x[0], x[1], num_param(c, "value")));
  // reductions
  if (op == "sum") return one(sum(x[0], ints_param(c, "dims"), bool_param(c, "keepdim")));
  if (op == "mean") return one(mean(x[0], ints_param(c, "dims"), bool_param(c, "keepdim")));
  if (op == "amax") return one(amax(x[0], ints_param(c, "dims"), bool_param(c, "keepdim")));
  if (op == "amin") return one(amin(x[0], ints_param(c, "dims"), bool_param(c, "keepdim")));
  if (op == "prod") return one(prod(x[0], int_param(c, "dim"), bool_param(c, "keepdim")));
  if (op == "max_dim" || op == "min_dim") {
    auto [v, i] = op == "max_dim" ? max(x[0], int_param(c, "dim"), bool_param(c, "keepdim"))
                                  : min(x[0], int_param(c, "dim"), bool_param(c, "keepdim"));
    return {v, i};
  }
  if (op == "max_all") return one(max(x[0]));
  if (op == "min_all") return one(min(x[0]));
  if (op == "var" || op == "std") {
    const auto dims = ints_param(c, "dims");
    const bool unb = bool_param(c, "unbiased"), keep = bool_param(c, "keepdim");
    return one(op == "var" ? var(x[0], dims, unb, keep) : galen::std(x[0], dims, unb, keep));
  }
  if (op == "logsumexp") return one(logsumexp(x[0], ints_param(c, "dims"), bool_param(c, "keepdim")));
  if (op == "norm") {
    const json::Value& p = param(c, "p");
    const double pv = p.is_string() ? (p.as_string() == "inf" ? INFINITY : NAN) : p.as_double();
    return one(norm(x[0], pv, ints_param(c, "dims"), bool_param(c, "keepdim")));
  }
  // linear algebra
  if (op == "matmul") return one(matmul(x[0], x[1]));
  if (op == "mm") return one(mm(x[0], x[1]));
  if (op == "bmm") return one(bmm(x[0], x[1]));
  if (op == "linear") return one(linear(x[0], x[1], x.size() > 2 ? x[2] : Tensor()));
  // shape and indexing
  if (op == "cat") return one(cat(x, int_param(c, "dim")));
  if (op == "stack") return one(stack(x, int_param(c, "dim")));
  if (op == "split") {
    if (has(c, "sizes")) return split(x[0], ints_param(c, "sizes"), int_param(c, "dim"));
    return split(x[0], int_param(c, "split_size"), int_param(c, "dim"));
  }
  if (op == "chunk") return chunk(x[0], int_param(c, "chunks"), int_param(c, "dim"));
  if (op == "index_select") return one(index_select(x[0], int_param(c, "dim"), x[1]));
  if (op == "gather") return one(gather(x[0], int_param(c, "dim"), x[1]));
  if (op == "scatter_add") return one(scatter_add(x[0], int_param(c, "dim"), x[1], x[2]));
  if (op == "index_add")
    return one(index_add(x[0], int_param(c, "dim"), x[1], x[2], num_param(c, "alpha")));
  if (op == "softmax") return one(softmax(x[0], int_param(c, "dim")));
  if (op == "log_softmax") return one(log_softmax(x[0], int_param(c, "dim")));
  // views and copies
  if (op == "view") return one(x[0].view(ints_param(c, "shape")));
  if (op == "reshape") return one(reshape(x[0], ints_param(c, "shape")));
  if (op == "permute") return one(permute(x[0], ints_param(c, "dims")));
  if (op == "transpose") return one(transpose(x[0], int_param(c, "dim0"), int_param(c, "dim1")));
  if (op == "squeeze") return one(has(c, "dim") ? x[0].squeeze(int_param(c, "dim")) : x[0].squeeze());
  if (op == "unsqueeze") return one(x[0].unsqueeze(int_param(c, "dim")));
  if (op == "flatten") return one(x[0].flatten(int_param(c, "start_dim"), int_param(c, "end_dim")));
  if (op == "expand") return one(x[0].expand(ints_param(c, "shape")));
  if (op == "narrow")
    return one(x[0].narrow(int_param(c, "dim"), int_param(c, "start"), int_param(c, "length")));
  if (op == "slice")
    return one(x[0].slice(int_param(c, "dim"), int_param(c, "start"), int_param(c, "end"),
                          int_param(c, "step")));
  if (op == "select") return one(x[0].select(int_param(c, "dim"), int_param(c, "index")));
  if (op == "contiguous") return one(x[0].contiguous());
  if (op == "clone") return one(x[0].clone());
  if (op == "to_dtype") return one(x[0].to(parse_dtype(param(c, "dtype").as_string())));
  GALEN_FAIL("parity: no galen mapping for op \"", op, "\" (case ", c.name, ")");
}

struct Tol {
  double atol, rtol;
};

// Runs one case with floating inputs cast to `dt`; returns "" or what differed.
std::string run_case(const Case& c, DType dt, Tol tol) {
  std::vector<Tensor> leaves, views;
  for (size_t i = 0; i < c.inputs.size(); ++i) {
    Tensor t = c.inputs[i];
    if (is_floating(t.dtype())) {
      t = t.to(dt).clone();
      t.requires_grad_(true);
    }
    leaves.push_back(t);
    views.push_back(c.perms[i] ? t.permute(*c.perms[i]) : t);
  }
  const std::vector<Tensor> outs = run_op(c, views);
  if (outs.size() != c.outs.size())
    return "op returned " + std::to_string(outs.size()) + " tensors, expected " +
           std::to_string(c.outs.size());

  std::string err;
  Tensor loss;
  for (size_t k = 0; k < outs.size(); ++k) {
    const Tensor& ref = c.outs[k];
    const std::string which = outs.size() > 1 ? "out" + std::to_string(k) : "out";
    DType want = ref.dtype();
    if (is_floating(ref.dtype())) want = c.op == "to_dtype" ? ref.dtype() : dt;
    if (outs[k].dtype() != want) {
      err += which + ": dtype " + dtype_name(outs[k].dtype()) + ", expected " + dtype_name(want) + "; ";
      continue;
    }
    const auto r = is_floating(ref.dtype()) ? test::compare_close(outs[k], ref, tol.atol, tol.rtol)
                                            : test::compare_close(outs[k], ref, 0.0, 0.0);
    if (!r.ok) err += which + ": " + r.message + "; ";
    if (c.weights[k].defined()) {
      Tensor term = sum(mul(outs[k], c.weights[k].to(outs[k].dtype())));
      loss = loss.defined() ? add(loss, term.to(loss.dtype())) : term;
    }
  }
  if (!err.empty()) return err;

  bool any_grad = false;
  for (const auto& g : c.grads) any_grad |= g.defined();
  if (!any_grad) return "";
  if (!loss.defined() || !loss.requires_grad()) return "output does not require grad";
  loss.backward();
  for (size_t i = 0; i < c.grads.size(); ++i) {
    if (!c.grads[i].defined()) continue;
    Tensor g = leaves[i].grad();
    if (!g.defined()) g = zeros_like(leaves[i]);  // no gradient reached it: zero
    if (g.dtype() != dt) {
      err += "grad" + std::to_string(i) + ": dtype " + dtype_name(g.dtype()) + ", expected " +
             dtype_name(dt) + "; ";
      continue;
    }
    const auto r = test::compare_close(g, c.grads[i], tol.atol, tol.rtol);
    if (!r.ok) err += "grad" + std::to_string(i) + ": " + r.message + "; ";
  }
  return err;
}

void run_all(DType dt, Tol tol) {
  REQUIRE_FALSE(cases().empty());
  size_t failed = 0;
  for (const Case& c : cases()) {
    std::string err;
    try {
      err = run_case(c, dt, tol);
    } catch (const std::exception& e) {
      err = std::string("threw: ") + e.what();
    }
    if (!err.empty()) {
      ++failed;
      FAIL_CHECK(dtype_name(dt) << " parity case " << c.name << " (op " << c.op << ", "
                                << json::write(c.meta) << "): " << err);
    }
  }
  INFO(failed << " of " << cases().size() << " cases failed");
  REQUIRE(failed == 0);
}

}  // namespace

TEST_CASE("parity fixture covers every differentiable op", "[parity]") {
  std::set<std::string> covered;
  for (const Case& c : cases()) covered.insert(c.op);
  // Ops whose parity cases live in other test files (layers, ...).
  for (const auto& op : galen::test::parity_covered()) covered.insert(op);
  std::string missing;
  for (const auto& name : differentiable_ops())
    if (!covered.count(name)) missing += (missing.empty() ? "" : ", ") + name;
  INFO("differentiable ops without a PyTorch parity case (add them to tools/make_fixtures.py): "
       << missing);
  REQUIRE(missing.empty());
  // And the other way: fixture ops must be registered, so the list stays honest.
  const auto& reg = differentiable_ops();
  std::string unknown;
  for (const auto& op : covered)
    if (std::find(reg.begin(), reg.end(), op) == reg.end())
      unknown += (unknown.empty() ? "" : ", ") + op;
  INFO("fixture ops missing from differentiable_ops(): " << unknown);
  REQUIRE(unknown.empty());
}

TEST_CASE("parity with PyTorch in f64", "[parity]") { run_all(DType::f64, Tol{1e-10, 1e-8}); }

// f32 kernels against the f64 reference: the inputs are rounded to f32, so the
// tolerance covers input rounding as well as f32 arithmetic.
TEST_CASE("parity with PyTorch in f32", "[parity]") { run_all(DType::f32, Tol{1e-5, 1e-5}); }
