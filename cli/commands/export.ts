/**
 * `meshbox export --k8s DIR`: writes the mesh (meshbox.yaml and its rules folder, or `-f`
 * manifests) as a Kubernetes + Istio project that `kubectl apply -k DIR` applies, and that
 * `meshbox up -f DIR` runs again as the same mesh. See sandbox/kubernetes/export-manifests.ts.
 */
import path from 'node:path';
import { existsSync } from 'node:fs';
import { loadMeshFile } from '../../sandbox/config/mesh-file.js';
import { hasErrors } from '../../sandbox/config/findings.js';
import { expandRulePaths } from '../../sandbox/config/rule-sources.js';
import { MeshError } from '../../sandbox/errors.js';
import { loadKubernetesMesh } from '../../sandbox/kubernetes/load.js';
import { exportManifests, writeExport } from '../../sandbox/kubernetes/export-manifests.js';
import type { MeshDefinition } from '../../sandbox/config/mesh-types.js';
import { chooseMeshFile, companionImages } from './up.js';
import { paint, printFindings, useColor, type Io } from '../output.js';

export interface ExportOptions {
  k8s?: string;
  config?: string;
  rules?: string;
  /** read these manifests instead of meshbox.yaml */
  file?: string[];
}

export async function runExport(opts: ExportOptions, io: Io): Promise<number> {
  const color = useColor();
  const c = paint(color);
  if (!opts.k8s) throw new MeshError('MESH_ERR_USAGE', ['meshbox export needs a target'], { hint: 'run `meshbox export --k8s DIR`' });
  const outDir = path.resolve(opts.k8s);
  let mesh: MeshDefinition | undefined;
  if (opts.file?.length) {
    // the process commands of the manifests are kept as annotations: import them as the process runtime does
    const images = await companionImages(opts.config, io, color);
    if (typeof images === 'number') return images;
    const loaded = await loadKubernetesMesh({ files: opts.file, ...(images ? { images } : {}) }, 'process');
    printFindings(io, loaded.findings.filter((f) => f.severity === 'error'), color);
    mesh = loaded.mesh;
  } else {
    const config = chooseMeshFile(opts.config, io, c);
    const loaded = await loadMeshFile(config);
    if (!loaded.mesh || hasErrors(loaded.findings)) {
      printFindings(io, loaded.findings, color);
      return 1;
    }
    mesh = loaded.mesh;
    if (mesh.kubernetes?.paths.length) {
      const merged = await loadKubernetesMesh({ mesh }, 'process');
      printFindings(io, merged.findings.filter((f) => f.severity === 'error'), color);
      if (merged.mesh) mesh = merged.mesh;
    }
  }
  if (!mesh) {
    io.err(c('red', 'nothing to export: fix the errors above'));
    return 1;
  }
  const rulesDir = opts.rules ? path.resolve(opts.rules) : mesh.rulesDir;
  const ruleFiles = rulesDir && existsSync(rulesDir) ? (await expandRulePaths([rulesDir])).files : [];
  for (const f of mesh.ruleFiles ?? []) if (!ruleFiles.includes(f)) ruleFiles.push(f);
  const result = await exportManifests({ mesh, ruleFiles }, outDir);
  await writeExport(result, outDir);
  for (const n of result.notes) {
    if (n.severity === 'warning') io.err(c('yellow', `warning: ${n.message}${n.hint ? ` (${n.hint})` : ''}`));
    else io.out(c('gray', `note: ${n.message}${n.hint ? ` (${n.hint})` : ''}`));
  }
  io.out(`${c('green', 'wrote')} ${result.files.length} files to ${outDir}: ${result.files.map((f) => f.path).join(', ')}`);
  io.out(c('gray', `apply to a cluster with \`kubectl apply -k ${path.relative(process.cwd(), outDir) || '.'}\`; run it here with \`meshbox up -f ${path.relative(process.cwd(), outDir) || '.'}\``));
  return 0;
}
