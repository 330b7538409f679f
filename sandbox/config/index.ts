/**
 * Configuration loading and validation: the public API of sandbox/config.
 */
export { validatePaths } from './validate.js';
export type { ValidateOptions } from './validate.js';
export type { ExpandOptions } from './rule-sources.js';
export { loadRules, parseRulesText, assembleRules, rulesFromParsed } from './rules-loader.js';
export type { FileLoadResult, RulesLoadResult, LoadRulesOptions } from './rules-loader.js';
export { expandRulePaths, readRuleSources, isRuleFileName } from './rule-sources.js';
export { loadMeshFile, parseMeshText, parseMeshDocument, looksLikeMeshDocument, findProjectMeshFile, MESH_FILE_NAMES } from './mesh-file.js';
export type { MeshLoadResult } from './mesh-file.js';
export { analyze } from './analyze.js';
export { isCatchAllMatch } from './analyzers/route-order.js';
export { dedupeResources, describeResource } from './resource-set.js';
export { parseYaml } from './yaml-source.js';
export type { YamlDocument, YamlParseResult, YamlPath } from './yaml-source.js';
export { parseDuration, tryParseDuration, isValidDuration, durationProblem, formatDuration, DurationError } from './duration.js';
export { compileRe2 } from './re2.js';
export { resolveHost, serviceFqdn, meshServiceForHost, hostCovers, hostsIntersect, gatewayHostAdmits, gatewayKey, CLUSTER_DOMAIN } from './hosts.js';
export { FINDING_CODES, makeFinding } from './codes.js';
export type { FindingCodeName, FindingCodeInfo } from './codes.js';
export { resourceSchema, resourceJsonSchema } from './schemas/resource.js';
export { meshFileJsonSchema } from './schemas/mesh-file.js';
export { RETRY_ON_POLICIES, retryOnProblems } from './checks/retry-on.js';
export { notAppliedFindings, notAppliedFields } from './not-applied.js';
export type { NotAppliedField } from './not-applied.js';
