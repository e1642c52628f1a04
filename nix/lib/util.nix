# Small helpers written with builtins only, so the builders evaluate without nixpkgs' lib.
rec {
  escapeShellArg = arg: "'" + builtins.replaceStrings [ "'" ] [ "'\\''" ] (toString arg) + "'";
  escapeShellArgs = args: builtins.concatStringsSep " " (map escapeShellArg args);
  optionalString = cond: s: if cond then s else "";
  optional = cond: x: if cond then [ x ] else [ ];
  optionals = cond: xs: if cond then xs else [ ];
  hasPrefix = prefix: s: builtins.substring 0 (builtins.stringLength prefix) s == prefix;

  # The imgkit command: a package (anything with bin/imgkit, e.g. nixpkgs' callPackage ./package.nix)
  # or the absolute path of the executable as a string ("/opt/imgkit/bin/imgkit"). A string is used as
  # it is, never copied to the store, so a checkout's bin/imgkit keeps finding its dist/ and node_modules/.
  imgkitExe = imgkit:
    if builtins.isAttrs imgkit || builtins.isPath imgkit then "${imgkit}/bin/imgkit" else toString imgkit;

  # What nixpkgs' make-initrd.nix calls toValidStoreName.
  toValidStoreName = x:
    builtins.concatStringsSep "-" (builtins.filter (x: !(builtins.isList x)) (builtins.split "[^a-zA-Z0-9_=.?-]+" x));

  # Bash: print the store paths of every exportReferencesGraph file given as arguments, sorted and unique.
  # The file format is Nix's validity registration: path, deriver, number of references, references.
  # (nixpkgs uses paths-from-graph.pl; this needs no perl.)
  closurePathsFn = ''
    closurePaths() {
      local f p d n r
      for f in "$@"; do
        while IFS= read -r p; do
          IFS= read -r d; IFS= read -r n
          while [ "$n" -gt 0 ]; do IFS= read -r r; n=$((n - 1)); done
          printf '%s\n' "$p"
        done < "$f"
      done | LC_ALL=C sort -u
    }
  '';
}
