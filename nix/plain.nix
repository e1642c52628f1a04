# What the builders need from nixpkgs, made of `derivation` alone, for machines with Nix but no nixpkgs
# (Debian's nix-bin, CI): a bash `runCommand`, `closureInfo`, and imgkit from a checkout. The build runs
# the host's bash, coreutils, findutils and node from `path`, so it needs `--option sandbox false`.
#
#   let plain = import ./nix/plain.nix { node = "/usr/bin/node"; };
#       imgkitLib = import ./nix/lib { inherit (plain) runCommand closureInfo;
#                                      imgkit = plain.imgkitFromCheckout ./.; };
{ system ? builtins.currentSystem
, bash ? "/bin/bash"
, node ? "/usr/bin/node"
, path ? "/usr/local/bin:/usr/bin:/bin"   # PATH inside the builds
}:
rec {
  # nixpkgs' `runCommand name env script`: bash with `set -eu -o pipefail` as stdenv's setup does;
  # `passthru` is merged into the result, build-input lists are ignored (the host PATH is used).
  # The final `:` matters: without it bash execs the last command, and when that is a coreutils program
  # it closes stdout/stderr before exiting; Nix sees EOF, kills the builder and reports signal 9.
  runCommand = name: env: script:
    let
      drvEnv = builtins.removeAttrs env [ "passthru" "meta" "nativeBuildInputs" "buildInputs" ];
    in
    derivation ({ PATH = path; } // drvEnv // {
      inherit name system;
      builder = bash;
      args = [ "-c" ("set -eu -o pipefail\n" + script + "\n:") ];
    }) // (env.passthru or { });

  # nixpkgs' `closureInfo { rootPaths }`: $out/store-paths, $out/registration (nix-store --load-db format,
  # with NAR hashes and sizes, so it needs structured attrs; node reads the JSON), $out/total-nar-size.
  closureInfo = { rootPaths }:
    derivation {
      name = "closure-info";
      inherit system;
      builder = node;
      __structuredAttrs = true;
      exportReferencesGraph.closure = rootPaths;
      args = [ "-e" ''
        const fs = require('node:fs');
        const attrs = JSON.parse(fs.readFileSync(process.env.NIX_ATTRS_JSON_FILE || '.attrs.json', 'utf8'));
        const out = attrs.outputs.out, closure = attrs.closure || [];
        fs.mkdirSync(out);
        fs.writeFileSync(out + '/total-nar-size', closure.reduce((n, p) => n + p.narSize, 0) + '\n');
        fs.writeFileSync(out + '/store-paths', closure.map((p) => p.path + '\n').join(""));
        fs.writeFileSync(out + '/registration', closure.map((p) =>
          [p.path, p.narHash, p.narSize, "", p.references.length, ...p.references].map((l) => l + '\n').join("")).join(""));
      '' ];
    };

  # The checkout's bin/, dist/ and runtime node_modules/ (package-lock.json's non-dev packages) copied to
  # the store, with wrappers that run them with `node`: a change to dist/ gives a new imgkit and new images.
  imgkitFromCheckout = src:
    let
      lock = builtins.fromJSON (builtins.readFile (src + "/package-lock.json"));
      runtime = builtins.filter (k: k != "" && !(lock.packages.${k}.dev or false)) (builtins.attrNames lock.packages);
      starts = p: s: builtins.substring 0 (builtins.stringLength p) s == p;
      keep = rel: rel == "package.json" || rel == "dist" || starts "dist/" rel || rel == "node_modules"
        || builtins.any (m: rel == m || starts (m + "/") rel || starts (rel + "/") m) runtime;
      root = toString src;
      tree = builtins.path {
        path = src;
        name = "imgkit-src";
        filter = p: _: keep (builtins.substring (builtins.stringLength root + 1) (-1) p);
      };
    in
    derivation {
      name = "imgkit-${(builtins.fromJSON (builtins.readFile (src + "/package.json"))).version}";
      inherit system;
      builder = bash;
      PATH = path;
      args = [ "-c" ''
        set -eu
        mkdir -p "$out/bin" "$out/lib"
        ln -s ${tree} "$out/lib/imgkit"
        for t in imgkit bootimg uimage fdt initramfs squashfs; do
          printf '#!%s\nexec %s %s "$@"\n' ${bash} ${node} "$out/lib/imgkit/dist/cli/$t.js" > "$out/bin/$t"
          chmod +x "$out/bin/$t"
        done
      '' ];
    };
}
