extension Scene {
    /// A scene from the model's inputs alone (as a training set stores them): it conditions the
    /// model like the scene it was made from, but holds no pictures to draw, so it can be
    /// sampled and trained on, not rendered.
    ///
    /// - Parameters:
    ///   - patchInputs: `[patches, patchFeatures]`.
    ///   - layerInputs: `[K, layerFeatures]`.
    public init(prompt: String, tokens: [Int], patchInputs: [Float], layerInputs: [Float], layerCount: Int) {
        precondition(patchInputs.count == Scene.patches * Scene.patchFeatures && layerInputs.count == Trajectory.maxLayers * Scene.layerFeatures,
                     "Scene: \(patchInputs.count) patch and \(layerInputs.count) layer inputs")
        let empty = Layer(color: .zero, alpha: [], width: 0, height: 0)
        let frame = LayeredFrame(width: LayerCut.size, height: LayerCut.size, background: .zero, plate: [], frame: [],
                                 layers: [Layer](repeating: empty, count: layerCount))
        self.prompt = prompt
        self.layered = frame
        self.working = frame
        self.tokens = tokens
        self.patchInputs = patchInputs
        self.layerInputs = layerInputs
    }
}
