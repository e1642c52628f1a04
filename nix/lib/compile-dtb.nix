# A device tree blob from a .dts, as NixWRT's kernel/build-fdt.nix makes one (cpp -nostdinc -x
# assembler-with-cpp -I… -undef -D__DTS__, a /chosen/bootargs node appended, dtc -O dtb -i…), done by
# `imgkit fdt compile`, which has the preprocessor built in.
{ imgkit, runCommand, ... }:
let
  u = import ./util.nix;
  inherit (u) escapeShellArgs;
in
{ name ? "fdt"
, dts
, includes ? [ ]          # folders for #include (cpp -I) and /include/ (dtc -i)
, commandLine ? null      # null: no /chosen/bootargs added
, defines ? [ ]           # cpp -D NAME[=VALUE]
, extraArgs ? [ ]         # more dtc flags: [ "-@" "-p" "1024" ]
}:
let
  incArgs = builtins.concatLists (map (d: [ "-i" "${d}" ]) includes);
  defArgs = builtins.concatLists (map (d: [ "-D" d ]) defines);
  # bootargs goes after the preprocessed source; an #include of the source keeps its own relative includes.
  wrapper = ''
    #include "${dts}"
    / { chosen { bootargs = ${builtins.toJSON commandLine}; }; };
  '';
in
runCommand name (if commandLine == null then { } else { withBootargs = wrapper; passAsFile = [ "withBootargs" ]; }) ''
  ${u.imgkitExe imgkit} fdt compile --cpp -I dts -O dtb ${escapeShellArgs (incArgs ++ defArgs ++ extraArgs)} \
    -o "$out" ${if commandLine == null then "${dts}" else "\"$withBootargsPath\""}
''
