/** Router flash images: assemble a kernel uImage and a squashfs rootfs on erase-block boundaries; find the parts again. */
export { DEFAULT_ERASE_BLOCK, ERASED, JFFS2_EOF_MARKER, type Partition, parseMtdparts, parseSize, formatSize } from './layout.js';
export {
  assembleFirmware, FirmwareBudgetError, type FirmwareOptions, type AssembledFirmware, type Budget, type BudgetLine, type Overrun,
} from './write.js';
export {
  describeFirmware, type DescribeOptions, type FirmwareLayout, type FirmwarePart, type UImagePart, type FitPart, type SquashfsPart, type GapPart,
} from './read.js';
export { formatBudget, formatLayout, layoutJson } from './text.js';
