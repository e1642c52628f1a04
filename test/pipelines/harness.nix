# The two pipelines of nix/examples, run with plain `derivation` (nix/plain.nix, no nixpkgs) by
# test/pipelines/*.test.ts. Like test/nix/harness.nix:
#   repo    the checkout;  inputs  a folder the test fills (router/{vmlinuz,busybox,modules/}, phone/{zImage,busybox,dt.img,virt.dtb})
#   imgkitStorePath  an imgkit built before (`-A imgkitBase`), so later evaluations do not copy the checkout again
{ repo, inputs, node ? "/usr/bin/node", path ? "/usr/local/bin:/usr/bin:/bin", imgkitStorePath ? null
, flashSize ? "8MiB", twoStepRootfs ? false }:
let
  plain = import (repo + "/nix/plain.nix") { inherit node path; };
  imgkitBase = if imgkitStorePath == null then plain.imgkitFromCheckout repo
    else { outPath = builtins.storePath imgkitStorePath; };
  # `imgkit firmware` until the umbrella (src/cli/imgkit.ts) lists it: run dist/cli/firmware.js directly.
  imgkit = plain.runCommand "imgkit-pipelines" { } ''
    mkdir -p "$out/bin"
    for f in ${imgkitBase}/bin/*; do ln -s "$f" "$out/bin/"; done
    rm "$out/bin/imgkit"
    {
      echo '#!/bin/sh'
      echo 'if [ "$1" = firmware ] && ! grep -q "firmware:" ${imgkitBase}/lib/imgkit/dist/cli/imgkit.js; then'
      echo '  shift; exec ${node} ${imgkitBase}/lib/imgkit/dist/cli/firmware.js "$@"'
      echo 'fi'
      echo 'exec ${imgkitBase}/bin/imgkit "$@"'
    } > "$out/bin/imgkit"
    chmod +x "$out/bin/imgkit"
  '';
  inp = builtins.path { path = inputs; name = "imgkit-pipeline-inputs"; };
in
{
  inherit imgkitBase imgkit;
  router = import (repo + "/nix/examples/router.nix") {
    inherit imgkit flashSize twoStepRootfs;
    inherit (plain) runCommand;
    kernel = "${inp}/router/vmlinuz";
    modules = "${inp}/router/modules";
    busybox = "${inp}/router/busybox";
  };
  phone = import (repo + "/nix/examples/phone.nix") {
    inherit imgkit;
    inherit (plain) runCommand;
    kernel = "${inp}/phone/zImage";
    busybox = "${inp}/phone/busybox";
    dt = "${inp}/phone/dt.img";
    dtb = "${inp}/phone/virt.dtb";
  };
}
