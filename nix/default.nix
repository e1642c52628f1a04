# The imgkit package and its image builders, for users with nixpkgs:
#
#   let imgkitLib = import ./nix { inherit pkgs; }; in imgkitLib.makeBootImage { … }
#
# Every argument can be replaced, e.g. to run the builders without nixpkgs (see ./plain.nix).
{ pkgs ? import <nixpkgs> { }
, imgkit ? pkgs.callPackage ./package.nix { }
, runCommand ? pkgs.runCommand
, closureInfo ? pkgs.closureInfo
}:
import ./lib { inherit imgkit runCommand closureInfo; } // { inherit imgkit; }
