/** The real-world sample files (copied verbatim from shared/samples, see its README for their origin and licence). */
import { fileURLToPath } from 'node:url';

export const SAMPLES_DIR = fileURLToPath(new URL('../fixtures/samples', import.meta.url));
