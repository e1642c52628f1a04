# imgkit's Nix builders. Each one has the inputs of the function it replaces and runs `imgkit` where that
# function ran mkbootimg, mkimage, mksquashfs, cpio + a compressor, or cpp + dtc.
#
#   imgkit      the imgkit package (has bin/imgkit) or the executable's absolute path as a string
#   runCommand  nixpkgs' `runCommand name env script`, or anything with its signature that runs the
#               script with bash (see ../plain.nix for one made of `derivation` alone)
#   closureInfo nixpkgs' `closureInfo { rootPaths }` (only makeSquashfs needs it)
{ imgkit, runCommand, closureInfo ? null }:
let
  args = { inherit imgkit runCommand closureInfo; };
  fit = import ./make-fit-image.nix args;
in
{
  makeBootImage = import ./make-bootimage.nix args;
  makeInitrd = import ./make-initrd.nix args;
  makeSquashfs = import ./make-squashfs.nix args;
  makeUImage = import ./make-uimage.nix args;
  makeFitImage = fit.makeFitImage;
  fitImageSource = fit.fitImageSource;
  compileDtb = import ./compile-dtb.nix args;
}
