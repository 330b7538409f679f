/** Kubernetes manifests in (`meshbox up -f`) and out (`meshbox export --k8s`). */
export { importManifests, withKubernetes, type ImportOptions, type ImportResult } from './import-mesh.js';
export { loadKubernetesMesh, resolveRuntime, type KubernetesLoad } from './load.js';
export { readManifests, type ManifestObject, type ManifestSet } from './manifest-sources.js';
