/**
 * How an image of a manifest gets started when no registry is assumed, in this order:
 *
 * Docker runtime:
 *   1. the image is in the local Docker image store: it runs as it is;
 *   2. a `skaffold.yaml` next to the manifests (or in a folder above them) has an artifact for it
 *      (`build.artifacts[]`: `image`, `context`, `docker.dockerfile`, `docker.buildArgs`): built;
 *      jib, buildpacks, ko, bazel and custom builders are reported as unsupported;
 *   3. a folder named like the image (the last segment of its name) holding a `Dockerfile`, next
 *      to the manifests or one folder up (or that folder itself): built. An artifact whose builder
 *      is unsupported falls back to such a folder when there is one (a warning says so).
 * Process runtime:
 *   the pod annotation `meshbox.dev/command` (a shell line, or a JSON argv list; relative to the
 *   manifest's folder, or to `meshbox.dev/cwd`), else meshbox.yaml `images: {<image>: {command}}`.
 *
 * When nothing matches, the finding says exactly which of these to add.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import type { Finding } from '../config/findings.js';
import { makeFinding } from '../config/codes.js';
import { isObj } from '../config/checks/guards.js';
import type { BuildSpec, ImageCommandSpec } from '../config/mesh-types.js';
import { parseYaml, type YamlDocument } from '../config/yaml-source.js';
import { imageFolderName, splitImage } from './manifest-sources.js';

export const COMMAND_ANNOTATION = 'meshbox.dev/command';
export const CWD_ANNOTATION = 'meshbox.dev/cwd';

export interface SkaffoldArtifact {
  image: string;
  build?: BuildSpec;
  /** set for an artifact whose builder meshbox does not run */
  unsupported?: string;
  file: string;
  index: number;
  doc: YamlDocument;
}

const UNSUPPORTED_BUILDERS: Record<string, string> = {
  jib: 'build the image once with `mvn compile jib:dockerBuild` (or `gradle jibDockerBuild`), so it is in the local store, or give the artifact a `docker:` builder with a Dockerfile',
  buildpacks: 'build the image once with `pack build <image>`, so it is in the local store, or give the artifact a `docker:` builder with a Dockerfile',
  ko: 'build the image once with `ko build --local`, or give the artifact a `docker:` builder',
  bazel: 'build the image once with `bazel run` of its image target, or give the artifact a `docker:` builder',
  custom: 'run the custom build once so the image is in the local store, or give the artifact a `docker:` builder',
  kaniko: 'use a `docker:` builder for local builds',
};

/** Reads the skaffold.yaml files found in `dirs` and the folders above them (nearest first). */
export function readSkaffold(dirs: readonly string[]): { artifacts: SkaffoldArtifact[]; findings: Finding[]; files: string[] } {
  const artifacts: SkaffoldArtifact[] = [];
  const findings: Finding[] = [];
  const seen = new Set<string>();
  for (const start of dirs) {
    for (let d = start, i = 0; i < 3; i++, d = dirname(d)) {
      for (const n of ['skaffold.yaml', 'skaffold.yml']) {
        const file = join(d, n);
        if (seen.has(file) || !existsSync(file)) continue;
        seen.add(file);
        const parsed = parseYaml(readFileSync(file, 'utf8'), file);
        findings.push(...parsed.findings);
        for (const doc of parsed.documents) {
          const v = doc.value;
          const list = isObj(v) && isObj(v['build']) && Array.isArray(v['build']['artifacts']) ? v['build']['artifacts'] : [];
          list.forEach((a, index) => {
            if (!isObj(a) || typeof a['image'] !== 'string') {
              findings.push(makeFinding('MISSING_FIELD', 'a skaffold artifact without `image`', { location: doc.locate(['build', 'artifacts', index]), hint: 'give each artifact the `image:` name the manifests use' }));
              return;
            }
            const base = { image: a['image'], file, index, doc };
            const builder = Object.keys(UNSUPPORTED_BUILDERS).find((b) => b in a);
            if (builder) {
              artifacts.push({ ...base, unsupported: builder });
              return;
            }
            const docker = isObj(a['docker']) ? a['docker'] : {};
            const args: Record<string, string> = {};
            if (isObj(docker['buildArgs'])) for (const [k, val] of Object.entries(docker['buildArgs'])) args[k] = String(val ?? '');
            artifacts.push({
              ...base,
              build: {
                context: resolve(dirname(file), typeof a['context'] === 'string' ? a['context'] : '.'),
                dockerfile: typeof docker['dockerfile'] === 'string' ? docker['dockerfile'] : 'Dockerfile',
                args,
              },
            });
          });
        }
      }
    }
  }
  return { artifacts, findings, files: [...seen] };
}

/** the artifact's builder is not run; `instead`: the Dockerfile folder that is built in its place */
export function unsupportedBuilderFinding(a: SkaffoldArtifact, instead?: BuildSpec): Finding {
  const why = `skaffold artifact ${a.image}: the \`${a.unsupported}\` builder is not supported by meshbox (it builds with Docker only)`;
  return makeFinding('K8S_UNSUPPORTED_BUILDER', instead ? `${why}: building ${join(instead.context, instead.dockerfile)} instead` : why, {
    location: a.doc.locate(['build', 'artifacts', a.index, a.unsupported ?? ''], { key: true }),
    hint: instead ? 'to build it as skaffold would, give the artifact a `docker:` builder (or build the image once so it is in the local store)' : (UNSUPPORTED_BUILDERS[a.unsupported ?? ''] ?? 'use a `docker:` builder'),
    ...(instead ? { severity: 'warning' as const } : {}),
  });
}

/**
 * A folder named like the image with a Dockerfile: in the manifests' folder or the one above it
 * (`k8s/callme-service/`, `callme-service/`), or one of those two itself (`callme-service/k8s/`
 * beside `callme-service/Dockerfile`).
 */
export function dockerfileFolder(image: string, dirs: readonly string[]): BuildSpec | undefined {
  const name = imageFolderName(image);
  for (const d of dirs) {
    const candidates = [join(d, name), join(dirname(d), name), ...[d, dirname(d)].filter((x) => basename(x) === name)];
    for (const ctx of candidates) {
      try {
        if (statSync(join(ctx, 'Dockerfile')).isFile()) return { context: ctx, dockerfile: 'Dockerfile', args: {} };
      } catch {
        // not here
      }
    }
  }
  return undefined;
}

/** `images:` entry of meshbox.yaml for an image: exact reference first, then its name without tag. */
export function imageEntry(image: string, images: Record<string, ImageCommandSpec>): ImageCommandSpec | undefined {
  return images[image] ?? images[splitImage(image).name];
}

/** The argv of the `meshbox.dev/command` annotation: a JSON list, else a shell line. */
export function commandAnnotation(value: string): string[] {
  const t = value.trim();
  if (t.startsWith('[')) {
    try {
      const parsed: unknown = JSON.parse(t);
      if (Array.isArray(parsed) && parsed.length > 0 && parsed.every((x) => typeof x === 'string')) return parsed as string[];
    } catch {
      // not JSON: a shell line
    }
  }
  return ['/bin/sh', '-c', t];
}

/** The message when nothing can start `image`: every way to make it runnable. */
export function notRunnableHint(image: string, runtime: 'process' | 'docker', dirs: readonly string[], skaffoldFile?: string): string {
  const dir = dirs[0] ?? '.';
  if (runtime === 'process') {
    return `the process runtime needs a command: add the pod annotation \`${COMMAND_ANNOTATION}: "<command line>"\` to the Deployment's template, or in meshbox.yaml \`images: { ${splitImage(image).name}: { command: <command line> } }\`; or run with Docker (--runtime docker)`;
  }
  const artifact = `{ image: ${splitImage(image).name}, context: <folder with its Dockerfile> }`;
  const recipe = skaffoldFile ? `add \`${artifact}\` to \`build.artifacts\` of ${skaffoldFile}` : `add a ${join(dir, 'skaffold.yaml')} with \`build.artifacts: [${artifact}]\``;
  return `${recipe}, or a folder ${join(dir, imageFolderName(image))}/ holding its Dockerfile, or build it once (\`docker build -t ${image} .\`); meshbox never pulls without --pull`;
}
