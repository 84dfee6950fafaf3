//! The type-state builder refuses incomplete or mistyped clients at compile
//! time. Each file in `tests/compile_fail/` must fail to compile with the
//! error in its `.stderr` snapshot; `tests/compile_pass/` must compile.
//!
//! The snapshots quote rustc's diagnostics, which change with the compiler
//! (and, for notes pointing into `src/builder.rs`, with that file's line
//! numbers). Regenerate them with
//! `TRYBUILD=overwrite cargo test -p hypersockets --test compile_fail`
//! and review the diff.

#[test]
fn type_state_builder() {
    let t = trybuild::TestCases::new();
    t.compile_fail("tests/compile_fail/*.rs");
    t.pass("tests/compile_pass/*.rs");
}
