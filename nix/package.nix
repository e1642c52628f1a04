# imgkit for nixpkgs users: `pkgs.callPackage ./nix/package.nix { }`.
# The npm dependencies come from package-lock.json through importNpmLock (nixpkgs >= 24.05), so no
# npmDepsHash needs updating when the lock file changes.
{ lib
, buildNpmPackage
, importNpmLock
, nodejs_20
, python3
, xz
, pkg-config
}:
let
  root = ./..;
  pkg = lib.importJSON (root + "/package.json");
in
buildNpmPackage {
  pname = pkg.name;
  inherit (pkg) version;
  nodejs = nodejs_20;

  src = lib.fileset.toSource {
    inherit root;
    fileset = lib.fileset.unions [
      (root + "/package.json")
      (root + "/package-lock.json")
      (root + "/tsconfig.json")
      (root + "/tsconfig.build.json")
      (root + "/bin")
      (root + "/src")
      (root + "/samples")
      (root + "/scripts")
    ];
  };

  npmDeps = importNpmLock { npmRoot = root; };
  npmConfigHook = importNpmLock.npmConfigHook;

  # lzma-native builds against liblzma when no prebuilt binary fits.
  nativeBuildInputs = [ python3 pkg-config ];
  buildInputs = [ xz ];

  # `npm run build` (tsc -p tsconfig.build.json) runs by default; dev dependencies are pruned afterwards.
  npmBuildScript = "build";

  # The bin/ launchers (package.json's "bin"; bin/package.json is not one) start Node by name (`exec node`,
  # from PATH): name this package's Node.
  postInstall = ''
    for t in ${builtins.concatStringsSep " " (builtins.attrNames pkg.bin)}; do
      substituteInPlace "$out/lib/node_modules/${pkg.name}/bin/$t" --replace-fail 'exec node ' 'exec ${nodejs_20}/bin/node '
    done
  '';

  doInstallCheck = true;
  installCheckPhase = ''
    runHook preInstallCheck
    $out/bin/imgkit --help > /dev/null
    $out/bin/bootimg --help > /dev/null
    runHook postInstallCheck
  '';

  meta = {
    description = pkg.description;
    license = lib.licenses.mit;
    mainProgram = "imgkit";
    platforms = lib.platforms.unix;
  };
}
