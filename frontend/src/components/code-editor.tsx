/** CodeMirror 6 with Python highlighting; lines with errors are marked and scrolled into view. */
import { python } from "@codemirror/lang-python";
import { EditorState, RangeSetBuilder, StateEffect, StateField } from "@codemirror/state";
import type { Extension } from "@codemirror/state";
import { Decoration, EditorView, keymap } from "@codemirror/view";
import type { DecorationSet } from "@codemirror/view";
import { basicSetup } from "codemirror";
import { useEffect, useRef } from "react";
import type { ReactNode } from "react";

const setErrorLines = StateEffect.define<number[]>();
const errorLineDecoration = Decoration.line({ attributes: { class: "cm-error-line" } });

const errorLinesField = StateField.define<DecorationSet>({
  create: () => Decoration.none,
  update(value, transaction) {
    let next = value.map(transaction.changes);
    for (const effect of transaction.effects) {
      if (effect.is(setErrorLines)) {
        const builder = new RangeSetBuilder<Decoration>();
        const lines = [...new Set(effect.value)]
          .filter((n) => n >= 1 && n <= transaction.state.doc.lines)
          .sort((a, b) => a - b);
        for (const n of lines) {
          const line = transaction.state.doc.line(n);
          builder.add(line.from, line.from, errorLineDecoration);
        }
        next = builder.finish();
      }
    }
    return next;
  },
  provide: (field) => EditorView.decorations.from(field),
});

export function CodeEditor(props: {
  value: string;
  onChange?: (value: string) => void;
  onSave?: () => void;
  errorLines?: number[];
  readOnly?: boolean;
  label: string;
  minHeight?: string;
}): ReactNode {
  const host = useRef<HTMLDivElement | null>(null);
  const view = useRef<EditorView | null>(null);
  const onChange = useRef(props.onChange);
  const onSave = useRef(props.onSave);
  onChange.current = props.onChange;
  onSave.current = props.onSave;

  useEffect(() => {
    if (!host.current) return;
    const extensions: Extension[] = [
      basicSetup,
      python(),
      errorLinesField,
      keymap.of([
        {
          key: "Mod-s",
          preventDefault: true,
          run: () => {
            onSave.current?.();
            return true;
          },
        },
      ]),
      EditorView.updateListener.of((update) => {
        if (update.docChanged) onChange.current?.(update.state.doc.toString());
      }),
      EditorView.contentAttributes.of({ "aria-label": props.label }),
      EditorState.readOnly.of(props.readOnly ?? false),
      EditorView.theme({
        "&": { minHeight: props.minHeight ?? "320px" },
        ".cm-scroller": { minHeight: props.minHeight ?? "320px" },
      }),
    ];
    const created = new EditorView({
      parent: host.current,
      state: EditorState.create({ doc: props.value, extensions }),
    });
    view.current = created;
    return () => {
      created.destroy();
      view.current = null;
    };
    // The editor is created once per mount; value and error lines are pushed in by the effects below.
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [props.readOnly]);

  useEffect(() => {
    const current = view.current;
    if (current && current.state.doc.toString() !== props.value) {
      current.dispatch({ changes: { from: 0, to: current.state.doc.length, insert: props.value } });
    }
  }, [props.value]);

  const errorKey = (props.errorLines ?? []).join(",");
  useEffect(() => {
    const current = view.current;
    if (!current) return;
    const lines = errorKey ? errorKey.split(",").map(Number) : [];
    const effects: StateEffect<unknown>[] = [setErrorLines.of(lines)];
    const first = lines[0];
    if (first !== undefined && first >= 1 && first <= current.state.doc.lines) {
      effects.push(EditorView.scrollIntoView(current.state.doc.line(first).from, { y: "center" }));
    }
    current.dispatch({ effects });
  }, [errorKey, props.value]);

  return <div className="code-editor" ref={host} data-testid="code-editor" />;
}
