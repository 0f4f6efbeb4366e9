#!/usr/bin/env bash
# Type-checks the library for macOS (aarch64-apple-darwin) so that no
# Linux-only call slips in without an alternative. There is no macOS SDK
# here, so nothing is linked: `cargo check` with Debian's Rust and std built
# from its sources, and zig's C compiler for the C that ring's build script
# compiles (the cc crate's own --target and -arch flags are dropped: zig
# takes its target as -target). Building and testing on a Mac: README.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
tools=$(bash "$repo/scripts/dist-tools.sh")
bash "$repo/scripts/cross-tools.sh"
target_dir=$(bash "$repo/tests/artifacts.sh" --target-dir)

cc="$target_dir/zig-cc-aarch64-macos"
mkdir -p "$target_dir"
cat >"$cc" <<WRAPPER
#!/usr/bin/env bash
args=()
skip=0
for a in "\$@"; do
    if [[ \$skip == 1 ]]; then skip=0; continue; fi
    case \$a in
        --target=* | -mmacosx-version-min=*) continue ;;
        -arch) skip=1; continue ;;
    esac
    args+=("\$a")
done
exec "$tools/python" -m ziglang cc -target aarch64-macos "\${args[@]}"
WRAPPER
chmod +x "$cc"

RUSTC=/usr/bin/rustc RUSTC_BOOTSTRAP=1 CC_aarch64_apple_darwin="$cc" \
    /usr/bin/cargo check -Z build-std=std,panic_abort --lib -p kapokmq --profile dist \
    --target aarch64-apple-darwin --manifest-path "$repo/Cargo.toml"
echo "macOS (aarch64-apple-darwin): the library type-checks"
