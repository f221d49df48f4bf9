// Tensor basics: creation, dtypes and casts, the metadata of every view op and
// storage sharing, copies, item(), printing, and the global RNG.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <set>
#include <sstream>
#include <vector>

#include "test_util.h"

using namespace galen;

namespace {

template <typename T>
std::vector<T> vals(const Tensor& t) {
  return t.to_vector<T>();
}
Tensor iota24() { return arange(24, DType::f32).reshape({2, 3, 4}); }

}  // namespace

// ---- creation ---------------------------------------------------------------------

TEST_CASE("zeros, ones, full, empty and the _like forms", "[tensor]") {
  Tensor z = zeros({2, 3});
  REQUIRE(z.sizes() == Shape{2, 3});
  REQUIRE(z.strides() == Shape{3, 1});
  REQUIRE(z.dim() == 2);
  REQUIRE(z.numel() == 6);
  REQUIRE(z.dtype() == DType::f32);
  REQUIRE(z.device() == Device{DeviceType::CPU});
  REQUIRE(z.is_contiguous());
  REQUIRE(z.storage_offset() == 0);
  REQUIRE(z.element_size() == 4);
  REQUIRE(vals<float>(z) == std::vector<float>(6, 0.f));
  REQUIRE(vals<double>(ones({4}, DType::f64)) == std::vector<double>(4, 1.0));
  REQUIRE(vals<int64_t>(full({2, 2}, 7, DType::i64)) == std::vector<int64_t>(4, 7));
  REQUIRE(vals<float>(full({3}, -2.5)) == std::vector<float>(3, -2.5f));
  Tensor e = empty({5, 0, 2});
  REQUIRE(e.numel() == 0);
  REQUIRE(e.sizes() == Shape{5, 0, 2});

  Tensor src = full({2, 1}, 3.0, DType::i32);
  Tensor zl = zeros_like(src), ol = ones_like(src), fl = full_like(src, 9), el = empty_like(src);
  for (const Tensor& t : {zl, ol, fl, el}) {
    REQUIRE(t.sizes() == Shape{2, 1});
    REQUIRE(t.dtype() == DType::i32);
  }
  REQUIRE(vals<int32_t>(fl) == std::vector<int32_t>{9, 9});
  REQUIRE(vals<int32_t>(ol) == std::vector<int32_t>{1, 1});
  REQUIRE(vals<int32_t>(zl) == std::vector<int32_t>{0, 0});

  Tensor s = scalar_tensor(4.5, DType::f64);
  REQUIRE(s.dim() == 0);
  REQUIRE(s.numel() == 1);
  REQUIRE(s.sizes().empty());
  REQUIRE(s.item() == 4.5);
}

TEST_CASE("arange with integer and float steps, linspace, eye", "[tensor]") {
  Tensor a = arange(5);
  REQUIRE(a.dtype() == DType::i64);
  REQUIRE(vals<int64_t>(a) == std::vector<int64_t>{0, 1, 2, 3, 4});
  REQUIRE(vals<int64_t>(arange(2, 11, 3)) == std::vector<int64_t>{2, 5, 8});
  REQUIRE(vals<int64_t>(arange(5, 0, -2)) == std::vector<int64_t>{5, 3, 1});
  REQUIRE(arange(3, 3).numel() == 0);

  Tensor f = arange(0, 1, 0.25, DType::f32);
  REQUIRE(f.dtype() == DType::f32);
  REQUIRE(vals<float>(f) == std::vector<float>{0.f, 0.25f, 0.5f, 0.75f});
  // like torch: ceil((end - start) / step) elements, start + i*step each
  Tensor g = arange(0, 1, 0.1, DType::f64);
  REQUIRE(g.numel() == 10);
  auto gv = vals<double>(g);
  for (int i = 0; i < 10; ++i) REQUIRE(gv[i] == Approx(0.1 * i).margin(1e-15));
  REQUIRE(arange(1, 2.5, 0.5, DType::f64).numel() == 3);  // 1, 1.5, 2

  Tensor l = linspace(0, 1, 5);
  REQUIRE(l.dtype() == DType::f32);
  REQUIRE(vals<float>(l) == std::vector<float>{0.f, 0.25f, 0.5f, 0.75f, 1.f});
  auto lv = vals<double>(linspace(-1, 2, 7, DType::f64));
  REQUIRE(lv.size() == 7);
  REQUIRE(lv.front() == -1.0);
  REQUIRE(lv.back() == 2.0);  // the end point is exact
  for (int i = 0; i < 7; ++i) REQUIRE(lv[i] == Approx(-1.0 + 0.5 * i).margin(1e-15));
  REQUIRE(vals<float>(linspace(3, 3, 1)) == std::vector<float>{3.f});

  REQUIRE(vals<float>(eye(3)) == std::vector<float>{1, 0, 0, 0, 1, 0, 0, 0, 1});
  Tensor r = eye(2, 3, DType::i64);
  REQUIRE(r.sizes() == Shape{2, 3});
  REQUIRE(vals<int64_t>(r) == std::vector<int64_t>{1, 0, 0, 0, 1, 0});
  REQUIRE(vals<float>(eye(3, 2)) == std::vector<float>{1, 0, 0, 1, 0, 0});
}

TEST_CASE("from_vector, tensor({...}) and from_blob", "[tensor]") {
  Tensor v = from_vector<float>({1, 2, 3, 4, 5, 6}, {2, 3});
  REQUIRE(v.sizes() == Shape{2, 3});
  REQUIRE(v.dtype() == DType::f32);
  REQUIRE(vals<float>(v) == std::vector<float>{1, 2, 3, 4, 5, 6});
  REQUIRE(v.data<float>()[4] == 5.f);
  REQUIRE_THROWS_AS(v.data<double>(), Error);
  REQUIRE_THROWS_AS(from_vector<float>({1, 2, 3}, {2, 2}), Error);

  Tensor i = tensor<int64_t>({3, -1, 4});
  REQUIRE(i.dtype() == DType::i64);
  REQUIRE(i.sizes() == Shape{3});
  REQUIRE(vals<int64_t>(i) == std::vector<int64_t>{3, -1, 4});
  Tensor d = tensor({1.5, 2.5});
  REQUIRE(d.dtype() == DType::f64);
  // a dtype option casts
  Tensor c = tensor({1.5, -2.5}, DType::f32);
  REQUIRE(c.dtype() == DType::f32);
  REQUIRE(vals<float>(c) == std::vector<float>{1.5f, -2.5f});

  SECTION("from_blob wraps without copying and runs the deleter once at the end") {
    int deleted = 0;
    float* buf = new float[6]{0, 1, 2, 3, 4, 5};
    {
      Tensor b = from_blob(buf, {2, 3}, DType::f32, Device{}, [&](void* p) {
        ++deleted;
        delete[] static_cast<float*>(p);
      });
      REQUIRE(b.data_ptr() == buf);
      buf[4] = 40.f;
      REQUIRE(vals<float>(b)[4] == 40.f);
      Tensor view = b.t();
      b = Tensor();  // the view keeps the storage alive
      REQUIRE(deleted == 0);
      REQUIRE(vals<float>(view) == std::vector<float>{0, 3, 1, 40, 2, 5});
    }
    REQUIRE(deleted == 1);
  }
  SECTION("from_blob with strides and no deleter") {
    double buf[6] = {0, 1, 2, 3, 4, 5};
    {
      Tensor b = from_blob(buf, {3, 2}, {1, 3}, DType::f64);
      REQUIRE(b.strides() == Shape{1, 3});
      REQUIRE_FALSE(b.is_contiguous());
      REQUIRE(vals<double>(b) == std::vector<double>{0, 3, 1, 4, 2, 5});
      b.fill_(1.0);
    }
    REQUIRE(buf[5] == 1.0);  // still ours, written through
  }
}

// ---- dtypes ------------------------------------------------------------------------

TEST_CASE("dtype names, sizes and promotion", "[tensor]") {
  REQUIRE(std::string(dtype_name(DType::f32)) == "f32");
  REQUIRE(std::string(dtype_name(DType::boolean)) == "bool");
  REQUIRE(element_size(DType::f64) == 8);
  REQUIRE(element_size(DType::i32) == 4);
  REQUIRE(element_size(DType::u8) == 1);
  REQUIRE(element_size(DType::boolean) == 1);
  REQUIRE(is_floating(DType::f32));
  REQUIRE_FALSE(is_floating(DType::i64));
  REQUIRE(is_integral(DType::boolean));
  REQUIRE(promote_types(DType::i64, DType::f32) == DType::f32);
  REQUIRE(promote_types(DType::f32, DType::f64) == DType::f64);
  REQUIRE(promote_types(DType::boolean, DType::u8) == DType::u8);
  REQUIRE(promote_types(DType::i32, DType::i64) == DType::i64);
  REQUIRE(promote_types(DType::u8, DType::i32) == DType::i32);
  // binary ops follow it
  REQUIRE((ones({2}, DType::i64) + ones({2}, DType::f32)).dtype() == DType::f32);
  REQUIRE((ones({2}, DType::i32) * ones({2}, DType::i64)).dtype() == DType::i64);
  REQUIRE(lt(ones({2}), ones({2})).dtype() == DType::boolean);
  // scalar forms keep the tensor's dtype, f32 for a fractional scalar on an int
  REQUIRE(add(ones({2}, DType::i64), 2.0).dtype() == DType::i64);
  Tensor h = add(ones({2}, DType::i64), 0.5);
  REQUIRE(h.dtype() == DType::f32);
  REQUIRE(vals<float>(h) == std::vector<float>{1.5f, 1.5f});
  REQUIRE(mul(ones({2}, DType::f64), 3.0).dtype() == DType::f64);
}

TEST_CASE("to(dtype) casts like torch", "[tensor]") {
  Tensor f = tensor<float>({-2.9f, -1.5f, -0.5f, 0.f, 0.5f, 1.7f, 2.9f});
  SECTION("float to int truncates toward zero") {
    REQUIRE(vals<int64_t>(f.to(DType::i64)) == std::vector<int64_t>{-2, -1, 0, 0, 0, 1, 2});
    REQUIRE(vals<int32_t>(f.to(DType::i32)) == std::vector<int32_t>{-2, -1, 0, 0, 0, 1, 2});
    REQUIRE(f.to(DType::i64).dtype() == DType::i64);
  }
  SECTION("to bool: nonzero is true") {
    Tensor b = f.to(DType::boolean);
    REQUIRE(b.dtype() == DType::boolean);
    REQUIRE(vals<bool>(b) == std::vector<bool>{true, true, true, false, true, true, true});
    REQUIRE(vals<float>(b.to(DType::f32)) == std::vector<float>{1, 1, 1, 0, 1, 1, 1});
  }
  SECTION("int to float and f32 <-> f64") {
    Tensor i = tensor<int64_t>({-3, 0, 7, 1 << 20});
    REQUIRE(vals<double>(i.to(DType::f64)) == std::vector<double>{-3, 0, 7, 1 << 20});
    Tensor d = tensor({0.1, 1e-3});
    auto back = vals<double>(d.to(DType::f32).to(DType::f64));
    REQUIRE(back[0] == static_cast<double>(0.1f));
    REQUIRE(back[1] == static_cast<double>(1e-3f));
  }
  SECTION("u8 holds 0..255") {
    Tensor u = tensor<int64_t>({0, 17, 255}).to(DType::u8);
    REQUIRE(u.dtype() == DType::u8);
    REQUIRE(vals<uint8_t>(u) == std::vector<uint8_t>{0, 17, 255});
    REQUIRE(vals<float>(u.to(DType::f32)) == std::vector<float>{0, 17, 255});
  }
  SECTION("casting keeps the logical order of a non-contiguous tensor") {
    Tensor m = arange(6, DType::f32).reshape({2, 3}).t();
    REQUIRE(vals<int64_t>(m.to(DType::i64)) == std::vector<int64_t>{0, 3, 1, 4, 2, 5});
  }
  SECTION("to the same dtype keeps the values") {
    REQUIRE(vals<float>(f.to(DType::f32)) == vals<float>(f));
  }
}

// ---- views ------------------------------------------------------------------------

TEST_CASE("sizes, strides and offsets of every view op", "[tensor]") {
  Tensor x = iota24();
  REQUIRE(x.sizes() == Shape{2, 3, 4});
  REQUIRE(x.strides() == Shape{12, 4, 1});
  REQUIRE(x.stride(-1) == 1);
  REQUIRE(x.size(-2) == 3);
  const void* base = x.data_ptr();
  auto same_storage = [&](const Tensor& v) { return v.impl()->storage == x.impl()->storage; };

  SECTION("view / reshape") {
    Tensor v = x.view({4, 6});
    REQUIRE(v.sizes() == Shape{4, 6});
    REQUIRE(v.strides() == Shape{6, 1});
    REQUIRE(same_storage(v));
    REQUIRE(x.view({-1, 4}).sizes() == Shape{6, 4});
    Tensor r = x.reshape({3, -1});
    REQUIRE(r.sizes() == Shape{3, 8});
    REQUIRE(same_storage(r));  // contiguous: reshape is a view
    REQUIRE(x.view({24}).data_ptr() == base);
  }
  SECTION("transpose, t, permute") {
    Tensor t = x.transpose(0, 2);
    REQUIRE(t.sizes() == Shape{4, 3, 2});
    REQUIRE(t.strides() == Shape{1, 4, 12});
    REQUIRE_FALSE(t.is_contiguous());
    REQUIRE(same_storage(t));
    REQUIRE(x.transpose(-1, -3).strides() == Shape{1, 4, 12});
    Tensor p = x.permute({1, 2, 0});
    REQUIRE(p.sizes() == Shape{3, 4, 2});
    REQUIRE(p.strides() == Shape{4, 1, 12});
    REQUIRE(vals<float>(p.select(0, 1).select(0, 2)) == std::vector<float>{6, 18});
    Tensor m = x.select(0, 0);
    REQUIRE(m.t().sizes() == Shape{4, 3});
    REQUIRE(m.t().strides() == Shape{1, 4});
  }
  SECTION("narrow and slice") {
    Tensor n = x.narrow(1, 1, 2);
    REQUIRE(n.sizes() == Shape{2, 2, 4});
    REQUIRE(n.strides() == Shape{12, 4, 1});
    REQUIRE(n.storage_offset() == 4);
    REQUIRE(same_storage(n));
    REQUIRE(x.narrow(-1, 3, 1).storage_offset() == 3);
    Tensor s = x.slice(2, 1, 4, 2);
    REQUIRE(s.sizes() == Shape{2, 3, 2});
    REQUIRE(s.strides() == Shape{12, 4, 2});
    REQUIRE(s.storage_offset() == 1);
    REQUIRE(vals<float>(s.select(0, 0).select(0, 0)) == std::vector<float>{1, 3});
    Tensor neg = x.slice(2, -3, 100);  // python x[..., -3:100] -> 1..3
    REQUIRE(neg.sizes() == Shape{2, 3, 3});
    REQUIRE(neg.storage_offset() == 1);
    REQUIRE(x.slice(1, 2, 1).size(1) == 0);  // empty, like python
    Tensor s2 = x.slice(0, 1, 2).slice(1, 0, 3, 2);
    REQUIRE(s2.storage_offset() == 12);
    REQUIRE(s2.strides() == Shape{12, 8, 1});
    REQUIRE(s2.sizes() == Shape{1, 2, 4});
  }
  SECTION("select") {
    Tensor s = x.select(1, 2);
    REQUIRE(s.sizes() == Shape{2, 4});
    REQUIRE(s.strides() == Shape{12, 1});
    REQUIRE(s.storage_offset() == 8);
    REQUIRE(same_storage(s));
    Tensor last = x.select(-1, 3);
    REQUIRE(last.sizes() == Shape{2, 3});
    REQUIRE(last.strides() == Shape{12, 4});
    REQUIRE(last.storage_offset() == 3);
    // python-style negative index, like torch.select
    REQUIRE(x.select(1, -1).storage_offset() == 8);
  }
  SECTION("unsqueeze, squeeze, flatten") {
    Tensor u = x.unsqueeze(1);
    REQUIRE(u.sizes() == Shape{2, 1, 3, 4});
    REQUIRE(u.stride(0) == 12);
    REQUIRE(u.stride(2) == 4);
    REQUIRE(u.stride(3) == 1);
    REQUIRE(same_storage(u));
    REQUIRE(x.unsqueeze(-1).sizes() == Shape{2, 3, 4, 1});
    REQUIRE(x.unsqueeze(0).sizes() == Shape{1, 2, 3, 4});
    Tensor sq = u.squeeze();
    REQUIRE(sq.sizes() == Shape{2, 3, 4});
    REQUIRE(sq.strides() == Shape{12, 4, 1});
    REQUIRE(u.squeeze(1).sizes() == Shape{2, 3, 4});
    REQUIRE(u.squeeze(0).sizes() == Shape{2, 1, 3, 4});  // not size 1: unchanged
    REQUIRE(ones({1, 1}).squeeze().dim() == 0);
    Tensor fl = x.flatten(1);
    REQUIRE(fl.sizes() == Shape{2, 12});
    REQUIRE(fl.strides() == Shape{12, 1});
    REQUIRE(same_storage(fl));
    REQUIRE(x.flatten().sizes() == Shape{24});
    REQUIRE(x.flatten(0, 1).sizes() == Shape{6, 4});
    REQUIRE(x.flatten(-2, -1).sizes() == Shape{2, 12});
  }
  SECTION("expand") {
    Tensor c = arange(3, DType::f32).reshape({3, 1});
    Tensor e = c.expand({3, 4});
    REQUIRE(e.sizes() == Shape{3, 4});
    REQUIRE(e.stride(1) == 0);
    REQUIRE(e.stride(0) == c.stride(0));
    REQUIRE(e.impl()->storage == c.impl()->storage);
    REQUIRE(vals<float>(e) == std::vector<float>{0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2});
    Tensor e2 = tensor<float>({1, 2}).expand({3, 2, 2});
    REQUIRE(e2.sizes() == Shape{3, 2, 2});
    REQUIRE(e2.strides() == Shape{0, 0, 1});
    REQUIRE(c.expand({-1, 5}).sizes() == Shape{3, 5});
    REQUIRE(c.expand_as(zeros({2, 3, 2})).sizes() == Shape{2, 3, 2});
    REQUIRE_THROWS_AS(c.expand({4, 4}), Error);  // size 3 cannot expand to 4
  }
}

TEST_CASE("views share storage: writes through a view reach the base", "[tensor]") {
  Tensor x = zeros({3, 4});
  x.narrow(0, 1, 1).fill_(5.0);
  x.t().select(0, 3).fill_(-1.0);  // column 3
  x.slice(1, 0, 4, 2).select(0, 2).copy_(tensor<float>({7, 8}));  // row 2, cols 0 and 2
  REQUIRE(vals<float>(x) == std::vector<float>{0, 0, 0, -1, 5, 5, 5, -1, 7, 0, 8, -1});
  // a write to the base shows in an older view
  Tensor col0 = x.select(1, 0);
  x.fill_(2.0);
  REQUIRE(vals<float>(col0) == std::vector<float>{2, 2, 2});
  // copy_ broadcasts its source and casts
  x.copy_(tensor<int64_t>({1, 2, 3, 4}));
  REQUIRE(vals<float>(x.select(0, 2)) == std::vector<float>{1, 2, 3, 4});
  // add_ and mul_ on a transposed view
  Tensor xt = x.t();
  xt.add_(ones({4, 3}), 0.5);
  xt.mul_(2.0);
  REQUIRE(vals<float>(x.select(0, 0)) == std::vector<float>{3, 5, 7, 9});
  // expand then write through a view of a view
  x.view({12}).narrow(0, 11, 1).fill_(100.0);
  REQUIRE(x.select(1, 3).select(0, 2).item() == 100.0);
}

TEST_CASE("view on a non-viewable layout throws - reshape copies", "[tensor]") {
  Tensor x = arange(6, DType::f32).reshape({2, 3});
  Tensor t = x.t();
  REQUIRE_THROWS_AS(t.view({6}), Error);
  REQUIRE_THROWS_AS(x.slice(1, 0, 3, 2).view({4}), Error);
  Tensor r = t.reshape({6});
  REQUIRE(vals<float>(r) == std::vector<float>{0, 3, 1, 4, 2, 5});
  REQUIRE(r.is_contiguous());
  REQUIRE(r.impl()->storage != x.impl()->storage);
  r.fill_(9.0);
  REQUIRE(vals<float>(x) == std::vector<float>{0, 1, 2, 3, 4, 5});
  // a view that only merges contiguous dims of a transposed tensor works
  Tensor y = arange(24, DType::f32).reshape({2, 3, 4}).permute({1, 0, 2});  // {3,2,4}
  // splitting a dim is always a view: {3,2,4} strides {4,12,1} -> {3,2,2,2}
  Tensor ys = y.view({3, 2, 2, 2});
  REQUIRE(ys.strides() == Shape{4, 12, 2, 1});
  REQUIRE(ys.impl()->storage == y.impl()->storage);
  // merging dims 1,2 (strides 12 and 1) or 0,1 (strides 4 and 12) is not
  REQUIRE_THROWS_AS(y.view({3, 8}), Error);
  REQUIRE_THROWS_AS(y.view({6, 4}), Error);
  REQUIRE(vals<float>(y.reshape({6, 4})) == vals<float>(y.contiguous().view({6, 4})));
  REQUIRE_THROWS_AS(x.view({-1, -1}), Error);
  // view of an expanded size-1 dim does not need a copy
  REQUIRE(x.unsqueeze(1).view({2, 3}).impl()->storage == x.impl()->storage);
}

TEST_CASE("contiguous and clone are independent copies", "[tensor]") {
  Tensor x = arange(6, DType::f32).reshape({2, 3});
  REQUIRE(x.contiguous().is_same(x));  // already contiguous: same handle
  Tensor c = x.t().contiguous();
  REQUIRE(c.is_contiguous());
  REQUIRE(c.sizes() == Shape{3, 2});
  REQUIRE(c.strides() == Shape{2, 1});
  REQUIRE(vals<float>(c) == std::vector<float>{0, 3, 1, 4, 2, 5});
  c.fill_(0.0);
  REQUIRE(vals<float>(x) == std::vector<float>{0, 1, 2, 3, 4, 5});

  Tensor k = x.clone();
  REQUIRE_FALSE(k.is_same(x));
  REQUIRE(k.data_ptr() != x.data_ptr());
  k.fill_(1.0);
  REQUIRE(vals<float>(x) == std::vector<float>{0, 1, 2, 3, 4, 5});
  x.fill_(3.0);
  REQUIRE(vals<float>(k) == std::vector<float>(6, 1.f));
  // clone of a strided view gives the view's values
  Tensor s = arange(10, DType::i64).slice(0, 1, 10, 3).clone();
  REQUIRE(vals<int64_t>(s) == std::vector<int64_t>{1, 4, 7});
  REQUIRE(s.dtype() == DType::i64);
  // the expanded case: contiguous materialises the broadcast
  Tensor e = tensor<float>({1, 2}).expand({2, 2}).contiguous();
  REQUIRE(e.strides() == Shape{2, 1});
  REQUIRE(vals<float>(e) == std::vector<float>{1, 2, 1, 2});
}

TEST_CASE("item: one element or an error", "[tensor]") {
  REQUIRE(tensor<float>({2.5f}).item() == 2.5);
  REQUIRE(full({1, 1, 1}, -3.0, DType::i64).item<int64_t>() == -3);
  REQUIRE(arange(10, DType::f64).select(0, 7).item() == 7.0);
  REQUIRE(tensor<bool>({true}).item<bool>());
  REQUIRE_THROWS_AS(zeros({2}).item(), Error);
  REQUIRE_THROWS_AS(zeros({0}).item(), Error);
  REQUIRE_THROWS_WITH(zeros({2, 3}).item(), Catch::Contains("item"));
}

TEST_CASE("operator<< prints values, shape and dtype", "[tensor]") {
  Tensor x = from_vector<float>({1.5f, -2.25f, 3.f, 4.f, 0.5f, 7.f}, {2, 3});
  std::ostringstream os;
  os << x;
  const std::string s = os.str();
  INFO(s);
  CHECK_THAT(s, Catch::Contains("1.5"));
  CHECK_THAT(s, Catch::Contains("-2.25"));
  CHECK_THAT(s, Catch::Contains("0.5"));
  CHECK_THAT(s, Catch::Contains("7"));
  CHECK_THAT(s, Catch::Contains(shape_str(x.sizes())));
  CHECK_THAT(s, Catch::Contains("f32"));
  CHECK(shape_str({2, 3}).find('2') != std::string::npos);
  CHECK(shape_str({2, 3}).find('3') != std::string::npos);
  // rows appear in order
  CHECK(s.find("1.5") < s.find("7"));

  std::ostringstream oi;
  oi << tensor<int64_t>({42, -7});
  CHECK_THAT(oi.str(), Catch::Contains("42"));
  CHECK_THAT(oi.str(), Catch::Contains("-7"));
  CHECK_THAT(oi.str(), Catch::Contains("i64"));

  std::ostringstream ot;  // non-contiguous: logical order
  ot << from_vector<int64_t>({11, 22, 33, 44}, {2, 2}).t();
  const std::string st = ot.str();
  CHECK(st.find("33") < st.find("22"));

  std::ostringstream ou;
  ou << Tensor();  // undefined must not crash
  CHECK_FALSE(ou.str().empty());
}

// ---- RNG ----------------------------------------------------------------------------

TEST_CASE("manual_seed reproduces rand, randn, randint bit for bit", "[tensor]") {
  auto draw = [] {
    Tensor a = rand({1000});
    Tensor b = randn({7, 13}, DType::f64);
    Tensor c = randint(-5, 17, {257});
    Tensor d = uniform({33}, -2.0, 3.0);
    Tensor e = normal({33}, 10.0, 0.5, DType::f64);
    return std::make_tuple(vals<float>(a), vals<double>(b), vals<int64_t>(c), vals<float>(d),
                           vals<double>(e));
  };
  manual_seed(1234);
  auto r1 = draw();
  manual_seed(1234);
  auto r2 = draw();
  REQUIRE(std::get<0>(r1) == std::get<0>(r2));
  REQUIRE(std::get<1>(r1) == std::get<1>(r2));
  REQUIRE(std::get<2>(r1) == std::get<2>(r2));
  REQUIRE(std::get<3>(r1) == std::get<3>(r2));
  REQUIRE(std::get<4>(r1) == std::get<4>(r2));
  REQUIRE(std::memcmp(std::get<0>(r1).data(), std::get<0>(r2).data(), 1000 * sizeof(float)) == 0);

  manual_seed(1235);
  auto r3 = draw();
  REQUIRE(std::get<0>(r1) != std::get<0>(r3));
  REQUIRE(std::get<1>(r1) != std::get<1>(r3));
  REQUIRE(std::get<2>(r1) != std::get<2>(r3));

  // consecutive draws differ (the offset advances)
  manual_seed(7);
  auto s0 = get_rng_state();
  Tensor p = rand({64});
  auto s1 = get_rng_state();
  Tensor q = rand({64});
  REQUIRE(s1.seed == 7);
  REQUIRE(s1.offset > s0.offset);
  REQUIRE(vals<float>(p) != vals<float>(q));
}

TEST_CASE("get_rng_state / set_rng_state replay the stream", "[tensor]") {
  manual_seed(99);
  (void)rand({10});
  const GeneratorState st = get_rng_state();
  Tensor a = randn({100});
  Tensor b = randint(0, 1000, {50});
  set_rng_state(st);
  REQUIRE(get_rng_state().seed == st.seed);
  REQUIRE(get_rng_state().offset == st.offset);
  REQUIRE(vals<float>(randn({100})) == vals<float>(a));
  REQUIRE(vals<int64_t>(randint(0, 1000, {50})) == vals<int64_t>(b));
}

TEST_CASE("rand is in the unit interval, randn has mean 0 and std 1, randint stays in range", "[tensor]") {
  manual_seed(2024);
  const int n = 100000;
  auto u = vals<float>(rand({n}));
  auto [umin, umax] = std::minmax_element(u.begin(), u.end());
  REQUIRE(*umin >= 0.f);
  REQUIRE(*umax < 1.f);
  double us = 0;
  for (float v : u) us += v;
  REQUIRE(std::fabs(us / n - 0.5) < 0.01);  // sd of the mean is 0.0009
  auto ud = vals<double>(rand({n}, DType::f64));
  REQUIRE(*std::min_element(ud.begin(), ud.end()) >= 0.0);
  REQUIRE(*std::max_element(ud.begin(), ud.end()) < 1.0);

  for (DType dt : {DType::f32, DType::f64}) {
    auto g = vals<double>(randn({n}, dt).to(DType::f64));
    double s = 0, s2 = 0;
    for (double v : g) s += v;
    const double mean = s / n;
    for (double v : g) s2 += (v - mean) * (v - mean);
    const double sd = std::sqrt(s2 / (n - 1));
    INFO("dtype " << dtype_name(dt) << " mean " << mean << " std " << sd);
    REQUIRE(std::fabs(mean) < 0.02);
    REQUIRE(std::fabs(sd - 1.0) < 0.02);
    // tails: about 0.27% beyond 3 sigma
    int beyond = 0;
    for (double v : g) beyond += std::fabs(v) > 3.0;
    REQUIRE(beyond > 150);
    REQUIRE(beyond < 400);
  }

  auto nv = vals<double>(normal({n}, 5.0, 2.0, DType::f64));
  double ns = 0;
  for (double v : nv) ns += v;
  REQUIRE(std::fabs(ns / n - 5.0) < 0.04);
  auto uv = vals<double>(uniform({n}, -3.0, -1.0, DType::f64));
  REQUIRE(*std::min_element(uv.begin(), uv.end()) >= -3.0);
  REQUIRE(*std::max_element(uv.begin(), uv.end()) < -1.0);

  Tensor ri = randint(-3, 4, {n});
  REQUIRE(ri.dtype() == DType::i64);
  auto iv = vals<int64_t>(ri);
  std::vector<int> counts(7, 0);
  for (int64_t v : iv) {
    REQUIRE(v >= -3);
    REQUIRE(v < 4);
    ++counts[static_cast<size_t>(v + 3)];
  }
  for (int c : counts) REQUIRE(std::abs(c - n / 7) < 800);  // each ~14286 +- 111 sd
  auto i32 = randint(0, 2, {1000}, DType::i32);
  REQUIRE(i32.dtype() == DType::i32);
  std::set<int32_t> seen;
  for (int32_t v : vals<int32_t>(i32)) seen.insert(v);
  REQUIRE(seen == std::set<int32_t>{0, 1});
}

TEST_CASE("random numbers do not depend on the thread count", "[tensor]") {
  const int before = get_num_threads();
  REQUIRE(before >= 1);
  set_num_threads(1);
  REQUIRE(get_num_threads() == 1);
  manual_seed(5);
  auto a1 = vals<float>(rand({100003}));
  auto b1 = vals<double>(randn({4099}, DType::f64));
  auto c1 = vals<int64_t>(randint(0, 1 << 30, {5001}));
  set_num_threads(2);
  REQUIRE(get_num_threads() == 2);
  manual_seed(5);
  auto a2 = vals<float>(rand({100003}));
  auto b2 = vals<double>(randn({4099}, DType::f64));
  auto c2 = vals<int64_t>(randint(0, 1 << 30, {5001}));
  set_num_threads(before);
  REQUIRE(a1 == a2);
  REQUIRE(b1 == b2);
  REQUIRE(c1 == c2);
}

TEST_CASE("a random draw of a sub-block equals the matching part of a larger draw", "[tensor]") {
  // counter-based: element i comes from counter offset + i, whatever the shape
  manual_seed(11);
  auto big = vals<float>(rand({4, 8}));
  manual_seed(11);
  auto flat = vals<float>(rand({32}));
  REQUIRE(big == flat);
}

TEST_CASE("Tensor convenience members forward to the ops", "[tensor]") {
  Tensor x = tensor({-1.0, 4.0});
  REQUIRE(x.sum().item() == 3.0);
  REQUIRE(x.mean().item() == 1.5);
  REQUIRE(vals<double>(x.abs()) == std::vector<double>{1, 4});
  REQUIRE(vals<double>(x.relu()) == std::vector<double>{0, 4});
  REQUIRE(vals<double>(x.pow(2.0)) == std::vector<double>{1, 16});
  REQUIRE(x.abs().sqrt().to_vector<double>()[1] == 2.0);
  REQUIRE(x.exp().to_vector<double>()[0] == Approx(std::exp(-1.0)).epsilon(1e-15));
  REQUIRE(x.abs().log().to_vector<double>()[1] == Approx(std::log(4.0)).epsilon(1e-15));
  REQUIRE(x.sigmoid().to_vector<double>()[0] == Approx(1 / (1 + std::exp(1.0))).epsilon(1e-15));
  REQUIRE(x.tanh().to_vector<double>()[1] == Approx(std::tanh(4.0)).epsilon(1e-15));
}

TEST_CASE("version and thread count are sane", "[tensor]") {
  REQUIRE(std::string(version()).size() >= 5);
  REQUIRE(get_num_threads() >= 1);
}

TEST_CASE("random draws: consecutive calls use fresh counters, prefixes agree", "[tensor]") {
  manual_seed(3);
  auto a = vals<double>(rand({1000}, DType::f64));
  auto b = vals<double>(rand({1000}, DType::f64));
  std::set<double> sa(a.begin(), a.end());
  REQUIRE(sa.size() == a.size());
  int shared = 0;
  for (double v : b) shared += sa.count(v) ? 1 : 0;
  REQUIRE(shared == 0);  // overlapping counter blocks would repeat numbers

  // element i comes from counter offset + i: a shorter draw is a prefix
  for (int64_t n : {1, 3, 5, 7}) {
    manual_seed(17);
    auto small = vals<float>(randn({n}));
    manual_seed(17);
    auto big = vals<float>(randn({n + 6}));
    INFO("n = " << n);
    REQUIRE(std::vector<float>(big.begin(), big.begin() + n) == small);
    manual_seed(17);
    auto us = vals<float>(rand({n}));
    manual_seed(17);
    auto ub = vals<float>(rand({n + 1}));
    REQUIRE(std::vector<float>(ub.begin(), ub.begin() + n) == us);
  }

  // neighbouring samples are uncorrelated (sd of the estimate ~0.003)
  manual_seed(8);
  const int n = 100000;
  for (bool normal_dist : {false, true}) {
    auto v = normal_dist ? vals<double>(randn({n}, DType::f64)) : vals<double>(rand({n}, DType::f64));
    double m = 0;
    for (double t : v) m += t;
    m /= n;
    double c0 = 0, c1 = 0, c2 = 0, c4 = 0;
    for (int i = 0; i < n; ++i) c0 += (v[i] - m) * (v[i] - m);
    for (int i = 0; i + 1 < n; ++i) c1 += (v[i] - m) * (v[i + 1] - m);
    for (int i = 0; i + 2 < n; ++i) c2 += (v[i] - m) * (v[i + 2] - m);
    for (int i = 0; i + 4 < n; ++i) c4 += (v[i] - m) * (v[i + 4] - m);
    INFO((normal_dist ? "randn" : "rand") << " lag-1 " << c1 / c0 << " lag-2 " << c2 / c0 << " lag-4 "
                                           << c4 / c0);
    REQUIRE(std::fabs(c1 / c0) < 0.015);
    REQUIRE(std::fabs(c2 / c0) < 0.015);
    REQUIRE(std::fabs(c4 / c0) < 0.015);
  }
}

TEST_CASE("large tensors print summarised", "[tensor]") {
  std::ostringstream os;
  os << arange(100000, DType::f32).reshape({1000, 100});
  const std::string s = os.str();
  CHECK_THAT(s, Catch::Contains("..."));
  CHECK(s.size() < 5000);
  CHECK_THAT(s, Catch::Contains("99999"));  // the last element is shown
}

TEST_CASE("contiguity ignores size-1 dims and views keep offsets", "[tensor]") {
  REQUIRE(zeros({1, 5}).t().is_contiguous());           // {5,1}, strides {1,5}
  REQUIRE(zeros({3, 4}).unsqueeze(1).is_contiguous());
  REQUIRE(zeros({3, 4}).narrow(0, 1, 2).is_contiguous());
  REQUIRE_FALSE(zeros({3, 4}).narrow(1, 1, 2).is_contiguous());
  REQUIRE_FALSE(zeros({3, 1}).expand({3, 2}).is_contiguous());
  Tensor x = arange(12, DType::f32).reshape({3, 4});
  Tensor v = x.narrow(0, 1, 2).view({-1});
  REQUIRE(v.storage_offset() == 4);
  REQUIRE(vals<float>(v) == std::vector<float>{4, 5, 6, 7, 8, 9, 10, 11});
  REQUIRE(x.narrow(0, 1, 2).contiguous().is_same(x.narrow(0, 1, 2)) == false);  // new handle each narrow
  Tensor n = x.narrow(0, 1, 2);
  REQUIRE(n.contiguous().is_same(n));
  // a 0-d tensor and an empty tensor are contiguous
  REQUIRE(scalar_tensor(1.0).is_contiguous());
  REQUIRE(zeros({0, 3}).is_contiguous());
}
