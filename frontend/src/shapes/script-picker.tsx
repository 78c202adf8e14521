/** Pick a script and a version (default: latest deployed), with a link that opens it in the editor. */
import { useEffect, useState } from "react";
import type { ReactNode } from "react";
import { api, itemsOf } from "../api/client";
import type { Page } from "../api/client";
import type { Script, ScriptVersionInfo } from "../api/types";
import { SelectField } from "./fields";

const versionCache = new Map<number, Promise<ScriptVersionInfo[]>>();

export function loadScriptVersions(scriptId: number, refresh = false): Promise<ScriptVersionInfo[]> {
  let pending = versionCache.get(scriptId);
  if (!pending || refresh) {
    pending = api
      .get<Page<ScriptVersionInfo> | ScriptVersionInfo[]>(`/api/scripts/${scriptId}/versions/`)
      .then((body) => itemsOf(body).filter((v) => v.status !== "draft" && v.number !== null));
    pending.catch(() => versionCache.delete(scriptId));
    versionCache.set(scriptId, pending);
  }
  return pending;
}

function useScriptVersions(scriptId: number | null): ScriptVersionInfo[] {
  const [versions, setVersions] = useState<ScriptVersionInfo[]>([]);
  useEffect(() => {
    let live = true;
    if (scriptId === null) {
      setVersions([]);
      return;
    }
    loadScriptVersions(scriptId)
      .then((list) => {
        if (live) setVersions(list);
      })
      .catch(() => {
        if (live) setVersions([]);
      });
    return () => {
      live = false;
    };
  }, [scriptId]);
  return versions;
}

export function ScriptPicker(props: {
  label: string;
  scripts: Script[];
  script: number | null;
  version: number | null;
  onChange: (script: number | null, version: number | null) => void;
  emptyLabel: string;
  scriptErrors?: string[];
  versionErrors?: string[];
  readOnly: boolean;
  testId?: string;
}): ReactNode {
  const versions = useScriptVersions(props.script);
  const deployed = versions.find((v) => v.status === "deployed");
  const options = props.scripts.map((s) => ({
    value: s.id,
    label: s.kind === "response" ? `${s.name} (response)` : s.name,
  }));
  // Keep a pinned script that is no longer deployed visible rather than silently dropping it.
  if (props.script !== null && !options.some((o) => o.value === props.script)) {
    options.push({ value: props.script, label: `Script #${props.script} (no deployed version)` });
  }
  return (
    <div className="script-picker">
      <SelectField<number>
        label={props.label}
        value={props.script}
        options={options}
        emptyLabel={props.emptyLabel}
        onChange={(value) => props.onChange(value, null)}
        readOnly={props.readOnly}
        {...(props.testId ? { testId: props.testId } : {})}
        {...(props.scriptErrors ? { errors: props.scriptErrors } : {})}
        {...(props.scripts.length === 0 ? { hint: "No script has a deployed version yet." } : {})}
      />
      {props.script !== null ? (
        <>
          <SelectField<number>
            label="Version"
            value={props.version}
            options={versions.map((v) => ({
              value: v.number as number,
              label: `v${v.number}${v.status === "deployed" ? " (deployed)" : " (inactive)"}`,
            }))}
            emptyLabel={deployed ? `Latest deployed (v${deployed.number})` : "Latest deployed"}
            onChange={(value) => props.onChange(props.script, value)}
            readOnly={props.readOnly}
            {...(props.testId ? { testId: `${props.testId}-version` } : {})}
            {...(props.versionErrors ? { errors: props.versionErrors } : {})}
          />
          <a className="open-script" href={`/scripts/${props.script}`} target="_blank" rel="noreferrer">
            Open script in the editor ↗
          </a>
        </>
      ) : null}
    </div>
  );
}
